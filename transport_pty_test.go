package openssh

// Pty sessions on both transports: modes, sizes, raw local terminals.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
	"golang.org/x/sys/unix"
)

// A remote tty works on both transports: the local pty is raw (the remote
// tty echoes once, no local echo and no CR/LF mapping), ^C reaches the remote
// process, and the window size is set.
func TestTransportPty(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var same sameOnBoth
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		// fail ends a pty command before failing the test (an exec.Cmd
		// must not leak without Wait).
		fail := func(c *Cmd, ptm *os.File, format string, args ...any) {
			t.Helper()
			ptm.Close()
			c.Wait()
			t.Fatalf(format, args...)
		}

		c := m.Command(ctx, "echo ready; read x; echo got:$x; stty size; exit 3")
		ptm, err := c.StartPty()
		if err != nil {
			t.Fatal(err)
		}
		// With mux the library makes the local pty raw before StartPty
		// returns; ssh does it a moment after the session opens.
		if err := waitRaw(ptm, tr); err != nil {
			fail(c, ptm, "%v", err)
		}
		head, err := readUntil(ptm, "ready\r")
		if err != nil {
			fail(c, ptm, "reading ready: %q %v", head, err)
		}
		ptm.Write([]byte("hello\r"))
		ptm.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, _ := io.ReadAll(ptm) // EIO at the end
		ptm.Close()
		err = noHang(t, 10*time.Second, "pty Wait", c.Wait)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 3 {
			t.Errorf("pty exit: %v, want status 3", err)
		}
		// The end of the ready line (the local pty may not be raw yet
		// when it arrives), then one echo of "hello" by the remote tty,
		// the answer and the window size.
		out := string(append(head, rest...))
		out = out[strings.Index(out, "ready\r")+len("ready\r"):]
		out = strings.TrimPrefix(strings.TrimPrefix(out, "\r"), "\n")
		if want := "hello\r\ngot:hello\r\n24 80\r\n"; out != want {
			t.Errorf("pty output %q, want %q", out, want)
		}
		same.record(tr, "pty", fmt.Sprintf("%q %s", out, errClass(err)))

		// ^C through the pty interrupts the remote command. The ^C goes
		// once the remote sleep runs: sent while the remote shell forks
		// it, it may reach the shell alone.
		sleep := fmt.Sprintf("sleep 30.%06d", time.Now().Nanosecond()/1000)
		c = m.Command(ctx, sleep+"; echo after")
		ptm, err = c.StartPty()
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, ptm)
		if err := waitRaw(ptm, tr); err != nil {
			fail(c, ptm, "%v", err)
		}
		if !waitProcess(sleep, 10*time.Second) {
			fail(c, ptm, "the remote %q did not start", sleep)
		}
		start := time.Now()
		ptm.Write([]byte{3})
		err = noHang(t, 15*time.Second, "^C Wait", c.Wait)
		ptm.Close()
		d := time.Since(start)
		t.Logf("^C: %v after %v", err, d)
		if d > 10*time.Second || waitProcess(sleep, 0) {
			t.Errorf("^C did not interrupt the remote command: %v after %v", err, d)
		}
		same.record(tr, "^C", errClass(err))

		// Open2Pty with the remote echo off: only the answer comes back.
		ptm, c, err = m.Open2Pty(ctx, "stty -echo; echo ready; read x; echo got:$x")
		if err != nil {
			t.Fatal(err)
		}
		if err := waitRaw(ptm, tr); err != nil {
			fail(c, ptm, "%v", err)
		}
		if head, err := readUntil(ptm, "ready\r"); err != nil {
			fail(c, ptm, "reading ready: %q %v", head, err)
		}
		ptm.Write([]byte("secret\r"))
		ptm.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, _ = io.ReadAll(ptm)
		ptm.Close()
		got := strings.TrimPrefix(strings.TrimPrefix(string(rest), "\r"), "\n")
		if err := c.Wait(); err != nil || got != "got:secret\r\n" {
			t.Errorf("echo off: %q %v", rest, err)
		}
	})
	same.check(t)
}

// readUntil reads the pty until marker has arrived (within 10 s).
func readUntil(ptm *os.File, marker string) ([]byte, error) {
	var got []byte
	buf := make([]byte, 256)
	ptm.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer ptm.SetReadDeadline(time.Time{})
	for !bytes.Contains(got, []byte(marker)) {
		n, err := ptm.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// isRaw reports whether the terminal of the pty master ptm has echo, signal
// characters and output processing off.
func isRaw(ptm *os.File) (bool, error) {
	tio, err := unix.IoctlGetTermios(int(ptm.Fd()), ioctlGetTermios)
	if err != nil {
		return false, err
	}
	return tio.Lflag&(unix.ECHO|unix.ISIG|unix.ICANON) == 0 && tio.Oflag&unix.OPOST == 0, nil
}

// waitRaw checks that the local pty is raw: at once with TransportMux,
// within 5 s with TransportProcess (ssh sets the modes after the session
// opened).
func waitRaw(ptm *os.File, tr Transport) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw, err := isRaw(ptm)
		if err != nil || raw {
			return err
		}
		if tr == TransportMux {
			return errors.New("mux: the local pty is not raw when StartPty returns")
		}
		if time.Now().After(deadline) {
			return errors.New("the local pty is still not raw after 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitProcess waits up to d for a process whose command line is cmdline
// (the remote host is this machine) and reports whether there is one.
func waitProcess(cmdline string, d time.Duration) bool {
	want := []byte(strings.ReplaceAll(cmdline, " ", "\x00") + "\x00")
	deadline := time.Now().Add(d)
	for {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Equal(cl, want) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

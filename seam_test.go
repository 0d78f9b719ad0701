package openssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// procStart returns the start time of process pid (field 22 of
// /proc/pid/stat), which tells it apart from a later process given the same
// pid, and its state letter; ok is false when there is no such process. A
// system without /proc gives "" for both while the process exists.
func procStart(pid int) (start, state string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if _, statErr := os.Stat("/proc/self/stat"); statErr == nil {
			return "", "", false // /proc works: the process is gone
		}
		return "", "", syscall.Kill(pid, 0) != syscall.ESRCH
	}
	// pid (comm) state ppid ... starttime is the 20th field after comm.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", "", false
	}
	return f[19], f[0], true
}

// processGone reports whether the process that was pid and started at
// start has exited: it is no more, it is a zombie not reaped yet, or the pid
// now names another process.
func processGone(pid int, start string) bool {
	s, state, ok := procStart(pid)
	return !ok || state == "Z" || s != start
}

// waitGone waits up to d for processGone and reports whether it came true.
func waitGone(pid int, start string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !processGone(pid, start) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// masterProcess returns the pid of m's master process and its start time.
func masterProcess(t *testing.T, m *Master) (int, string) {
	t.Helper()
	pid := m.MasterPID()
	if pid == 0 {
		t.Fatal("no master pid")
	}
	start, _, ok := procStart(pid)
	if !ok {
		t.Fatalf("master process %d is not running", pid)
	}
	return pid, start
}

// Stop works as "ssh -O stop" does on both transports (OpenSSH's
// regress/multiplex.sh): the master process exits once its last session
// has ended, at once when none is open. (Under TransportMux the library's
// own control connection used to keep the master alive until Close.)
func TestStopExitsMaster(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()

		// No session open: the master exits within 2 s of Stop.
		m, _ := newTestMasterT(t, srv, nil, tr)
		if err := m.System(ctx, "true"); err != nil {
			t.Fatal(err)
		}
		pid, start := masterProcess(t, m)
		if err := m.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		stopped := time.Now()
		if !waitGone(pid, start, 2*time.Second) {
			t.Errorf("no session open: the master (pid %d) still runs 2 s after Stop", pid)
		} else {
			t.Logf("no session open: the master exited %v after Stop", time.Since(stopped).Round(time.Millisecond))
		}

		// One session open: the session goes on after Stop, and the
		// master exits within 2 s of its end.
		m2, _ := newTestMasterT(t, srv, nil, tr)
		c := m2.Command(ctx, "echo up; sleep 1; echo done")
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, c)
		r := bufio.NewReader(out)
		if l, err := r.ReadString('\n'); l != "up\n" {
			t.Fatalf("session start: %q %v", l, err) // the session must be open before Stop
		}
		pid, start = masterProcess(t, m2)
		if err := m2.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		rest, _ := io.ReadAll(r)
		err = noHang(t, 10*time.Second, "Wait", c.Wait)
		ended := time.Now()
		if err != nil || string(rest) != "done\n" {
			t.Errorf("session open at Stop: %q %v, want \"done\\n\" and success", rest, err)
		}
		if !waitGone(pid, start, 2*time.Second) {
			t.Errorf("one session open: the master (pid %d) still runs 2 s after the session ended", pid)
		} else {
			t.Logf("one session open: the master exited %v after the session ended", time.Since(ended).Round(time.Millisecond))
		}
	})
}

// dialErrorRounds is how many refused and unresolvable dials
// TestDialErrorsUnderLoad makes on each transport.
const dialErrorRounds = 20

// Dial errors name their exact cause under CPU load, each dial its own: a
// refused port and an unresolvable host, alternately, 20 times. (The
// process transport used to search the whole master log for the reason, so
// an unresolvable host could come back as the refusal of an earlier dial.)
func TestDialErrorsUnderLoad(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	sshtest.CPUHog(t)
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		m, _ := newTestMasterT(t, srv, nil, tr)
		closed := TCPAddr("127.0.0.1", freeTCPPort(t)).String()
		dials := []struct {
			name, addr string
			want, not  error
		}{
			{"refused", closed, ErrConnRefused, ErrResolve},
			{"unresolvable", "nonexistent.invalid:80", ErrResolve, ErrConnRefused},
		}
		start := time.Now()
		for round := 1; round <= dialErrorRounds; round++ {
			for _, d := range dials {
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				err := noHang(t, 30*time.Second, "Dial "+d.addr, func() error {
					c, err := m.DialContext(ctx, "tcp", d.addr)
					closeIf(c)
					return err
				})
				cancel()
				if !errors.Is(err, ErrForwardFailed) || !errors.Is(err, d.want) || errors.Is(err, d.not) {
					t.Errorf("round %d, %s (%s): %v (%s), want ErrForwardFailed and %v, not %v",
						round, d.name, d.addr, err, errClass(err), d.want, d.not)
				}
			}
		}
		t.Logf("%d dials in %v", 2*dialErrorRounds, time.Since(start).Round(time.Millisecond))
		if err := m.Err(); err != nil {
			t.Errorf("master broken by failed dials: %v", err)
		}
	})
}

// A tunnel open when the master is killed: Read returns an error matching
// ErrMasterGone, which a caller can tell from the far end closing (io.EOF).
func TestTunnelMasterKilledRead(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		m, _ := newTestMasterT(t, srv, nil, tr)
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		c, err := m.Dial("tcp", echo.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping\n" {
			t.Fatalf("echo: %q %v", buf, err)
		}
		if err := syscall.Kill(m.MasterPID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		t.Logf("read after the kill: %d, %v (%s) after %v", n, err, errClass(err), time.Since(killed).Round(time.Millisecond))
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			t.Errorf("read still blocked 5 s after the master was killed")
		case err == io.EOF:
			t.Errorf("read after the kill: io.EOF, want an error matching ErrMasterGone")
		case !errors.Is(err, ErrMasterGone):
			t.Errorf("read after the kill: %d, %v (%s), want an error matching ErrMasterGone", n, err, errClass(err))
		}
	})
}

package openssh

// Tests of the two transports against each other (issue 9): each runs under
// both, and where the outcome of an operation is recorded with sameOnBoth
// the two transports must give the same bytes, exit codes and typed errors.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
	"golang.org/x/sys/unix"
)

// errClass describes err by what a caller can test: its type and code (not
// its text) and every sentinel it matches.
func errClass(err error) string {
	if err == nil {
		return "nil"
	}
	var parts []string
	var ee *ExitError
	var e *Error
	var ae *ArgError
	switch {
	case errors.As(err, &ee):
		parts = append(parts, fmt.Sprintf("*ExitError{Code:%d Signal:%q}", ee.Code, ee.Signal))
	case errors.As(err, &e):
		// The first word of Op: the rest names addresses.
		op, _, _ := strings.Cut(e.Op, " ")
		parts = append(parts, fmt.Sprintf("*Error{Code:%d Op:%q}", e.Code, op))
	case errors.As(err, &ae):
		parts = append(parts, fmt.Sprintf("*ArgError{Arg:%q}", ae.Arg))
	default:
		parts = append(parts, fmt.Sprintf("%T", err))
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrMasterFailed", ErrMasterFailed}, {"ErrSlaveFailed", ErrSlaveFailed},
		{"ErrSlavePipeFailed", ErrSlavePipeFailed}, {"ErrTimeout", ErrTimeout},
		{"ErrCmdFailed", ErrCmdFailed}, {"ErrEncoding", ErrEncoding}, {"ErrInvalid", ErrInvalid},
		{"ErrMasterGone", ErrMasterGone}, {"ErrMasterStopped", ErrMasterStopped}, {"ErrClosed", ErrClosed},
		{"ErrForwardFailed", ErrForwardFailed}, {"ErrForwardDenied", ErrForwardDenied},
		{"ErrConnRefused", ErrConnRefused}, {"ErrResolve", ErrResolve}, {"ErrSessionRefused", ErrSessionRefused},
		{"context.Canceled", context.Canceled}, {"context.DeadlineExceeded", context.DeadlineExceeded},
	} {
		if errors.Is(err, s.err) {
			parts = append(parts, s.name)
		}
	}
	return strings.Join(parts, " ")
}

// sameOnBoth collects named outcomes per transport; check reports those that
// differ between the transports.
type sameOnBoth struct {
	mu  sync.Mutex
	got map[string]map[Transport]string
}

func (s *sameOnBoth) record(tr Transport, key, val string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[string]map[Transport]string{}
	}
	if s.got[key] == nil {
		s.got[key] = map[Transport]string{}
	}
	s.got[key][tr] = val
}

// check runs after forEachTransport: each outcome seen on both transports
// must be the same.
func (s *sameOnBoth) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.got))
	for k := range s.got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, okp := s.got[k][TransportProcess]
		x, okx := s.got[k][TransportMux]
		if okp && okx && p != x {
			t.Errorf("%s differs between transports:\n  process: %s\n  mux:     %s", k, p, x)
		}
	}
}

// waitOnExit makes sure c is waited for, after closing closers, when the
// test stops early: an exec.Cmd must not leak without Wait. (A second Wait
// only returns an error.)
func waitOnExit(t *testing.T, c *Cmd, closers ...io.Closer) {
	t.Cleanup(func() {
		for _, cl := range closers {
			cl.Close()
		}
		c.Wait()
	})
}

// noHang runs f and fails the test when it has not returned within d.
func noHang[T any](t *testing.T, d time.Duration, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: no answer after %v", what, d)
	}
	panic("unreachable")
}

// A remote process killed by a signal: OpenSSH sends no exit status for it,
// and both transports report an *ExitError with status 255 (ExitError's doc
// comment), at once.
func TestTransportSignalKilled(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var same sameOnBoth
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		for _, c := range []struct {
			name string
			args []string
		}{
			// One argument: the line is the remote shell's own, so the
			// shell itself is killed (through "sh -c ..." as an argument
			// list, the outer shell would report 128+n).
			{"kill-KILL", []string{"kill -KILL $$"}},
			{"kill-TERM-after-output", []string{"echo before; kill -TERM $$; echo after"}},
			{"sh-c-kill-KILL", []string{"exec sh -c 'kill -KILL $$'"}},
		} {
			start := time.Now()
			type res struct {
				out []byte
				err error
			}
			r := noHang(t, 10*time.Second, c.name, func() res {
				out, err := m.Command(ctx, c.args...).Output()
				return res{out, err}
			})
			t.Logf("%s: %v after %v", c.name, r.err, time.Since(start))
			var ee *ExitError
			if !errors.As(r.err, &ee) || ee.Code != 255 || !errors.Is(r.err, ErrCmdFailed) {
				t.Errorf("%s: %v (%s), want an *ExitError with status 255", c.name, r.err, errClass(r.err))
			}
			if c.name == "kill-TERM-after-output" && string(r.out) != "before\n" {
				t.Errorf("%s: output %q, want %q", c.name, r.out, "before\n")
			}
			same.record(tr, c.name, fmt.Sprintf("%q %s %v", r.out, errClass(r.err), r.err))
		}
		// The master is fine afterwards.
		if err := m.Check(ctx); err != nil {
			t.Errorf("Check after the killed command: %v", err)
		}
		if out, err := m.Capture(ctx, "echo ok"); err != nil || string(out) != "ok\n" {
			t.Errorf("next command: %q %v", out, err)
		}
	})
	same.check(t)
}

// A session the server refuses (sshd's MaxSessions, with no limit on the
// library's side) is an *Error with code CodeSlaveFailed and
// ErrSessionRefused, not an exit status, on both transports; the master and the session already open go
// on.
func TestTransportSessionRefused(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{MaxSessions: 1})
	var same sameOnBoth
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		opts := testOptionsT(t, srv, tr)
		opts.MaxSessions = -1
		m, _ := newTestMasterT(t, srv, opts, tr)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()

		// The one session sshd allows: up until its stdin ends.
		first := m.Command(ctx, "echo up; cat >/dev/null; echo down")
		in, err := first.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := first.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, first, in)
		buf := make([]byte, 3)
		if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "up\n" {
			t.Fatalf("first session: %q %v", buf, err)
		}

		for i, f := range []func() error{
			func() error { return m.System(ctx, "echo never") },
			func() error { _, err := m.Capture(ctx, "echo never"); return err },
			func() error {
				c := m.Command(ctx, "echo never")
				ptm, err := c.StartPty()
				if err == nil {
					go io.Copy(io.Discard, ptm)
					err = c.Wait()
					ptm.Close()
				}
				return err
			},
		} {
			start := time.Now()
			err := noHang(t, 10*time.Second, "refused session", f)
			t.Logf("refused %d: %v after %v", i, err, time.Since(start))
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeSlaveFailed || !errors.Is(err, ErrSlaveFailed) || !errors.Is(err, ErrSessionRefused) ||
				errors.Is(err, ErrCmdFailed) || errors.Is(err, ErrMasterFailed) {
				t.Errorf("refused session %d: %v (%s), want an *Error with code CodeSlaveFailed and ErrSessionRefused", i, err, errClass(err))
			}
			same.record(tr, fmt.Sprintf("refused %d", i), errClass(err))
		}
		if err := m.Check(ctx); err != nil {
			t.Errorf("Check after the refusals: %v", err)
		}
		// The first session is untouched.
		in.Close()
		rest, _ := io.ReadAll(out)
		if err := first.Wait(); err != nil || string(rest) != "down\n" {
			t.Errorf("first session: %q %v", rest, err)
		}
		// And with its slot free, the next command runs. sshd frees the
		// slot a moment after the client saw the session close (under
		// load, tens of ms later): a refusal until then is sshd's timing.
		var again []byte
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			again, err = m.Capture(ctx, "echo again")
			if !errors.Is(err, ErrSessionRefused) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || string(again) != "again\n" {
			t.Errorf("after the first session: %q %v", again, err)
		}
	})
	same.check(t)
}

// The master killed while sessions run: every one ends at once with an
// *Error matching ErrMasterGone and ErrSlaveFailed, and the failure is
// sticky.
func TestTransportMasterKilled(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var same sameOnBoth
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		plain := m.Command(ctx, "echo up; sleep 30")
		var plainOut bytes.Buffer
		plain.Stdout = &plainOut
		if err := plain.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, plain)
		piped := m.Command(ctx, "echo up; sleep 30")
		pipe, err := piped.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := piped.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, piped)
		withPty := m.Command(ctx, "echo up; sleep 30")
		ptm, err := withPty.StartPty()
		if err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, withPty, ptm)
		go io.Copy(io.Discard, ptm)
		buf := make([]byte, 3)
		if _, err := io.ReadFull(pipe, buf); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, pipe)
		// An open tunnel and a listener waiting in Accept.
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		conn, err := m.Dial("tcp", echo.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		l, err := m.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		accepted := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			closeIf(c)
			accepted <- err
		}()
		time.Sleep(200 * time.Millisecond)
		if err := syscall.Kill(m.MasterPID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		// The cut is an error matching ErrMasterGone, never a clean EOF.
		if n, err := conn.Read(make([]byte, 1)); n != 0 || !errors.Is(err, ErrMasterGone) {
			t.Errorf("tunnel read after the kill: %d, %v; want an error matching ErrMasterGone", n, err)
		}
		t.Logf("tunnel cut seen after %v", time.Since(start))
		for name, c := range map[string]*Cmd{"plain": plain, "piped": piped, "pty": withPty} {
			err := noHang(t, 10*time.Second, name+" Wait", c.Wait)
			t.Logf("%s: %v after %v", name, err, time.Since(start))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrMasterGone) || !errors.Is(err, ErrSlaveFailed) {
				t.Errorf("%s: %v (%s), want an *Error with ErrMasterGone and ErrSlaveFailed", name, err, errClass(err))
			}
			same.record(tr, name, errClass(err))
		}
		// A listener whose master is gone can never accept again: Accept
		// returns an error (as after Master.Close) instead of blocking.
		select {
		case err := <-accepted:
			if err == nil {
				t.Error("Accept succeeded after the kill")
			}
			same.record(tr, "accept", errClass(err))
		case <-time.After(time.Until(start.Add(10 * time.Second))):
			t.Errorf("Accept still blocked 10 s after the master was killed")
			l.Close()
			<-accepted
		}
		ptm.Close()
		if plainOut.String() != "up\n" {
			t.Errorf("plain output %q", plainOut.String())
		}
		for name, f := range map[string]func() error{
			"command": func() error { return m.System(ctx, "true") },
			"check":   func() error { return m.Check(ctx) },
			"dial":    func() error { c, err := m.Dial("tcp", TCPAddr(srv.Addr, srv.Port).String()); closeIf(c); return err },
			"forward": func() error {
				_, err := m.Forward(ctx, ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", freeTCPPort(t)), Connect: TCPAddr(srv.Addr, srv.Port)})
				return err
			},
			"stop": func() error { return m.Stop(ctx) },
		} {
			err := noHang(t, 10*time.Second, name, f)
			if !errors.Is(err, ErrMasterFailed) || !errors.Is(err, ErrMasterGone) {
				t.Errorf("%s after the kill: %v, want ErrMasterFailed and ErrMasterGone", name, err)
			}
			same.record(tr, "after "+name, errClass(err))
		}
	})
	same.check(t)
}

func closeIf(c net.Conn) {
	if c != nil {
		c.Close()
	}
}

// Bytes on every stream, exit codes and StderrToStdout are the same on both
// transports, as are the errors built from them.
func TestTransportSameResults(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	data := randomData(t, 1<<20)
	var same sameOnBoth
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		type result struct {
			stdout, stderr []byte
			err            error
		}
		// run runs c with library-copied stdout and stderr.
		run := func(c *Cmd) result {
			var o, e bytes.Buffer
			c.Stdout, c.Stderr = &o, &e
			err := c.Run()
			return result{o.Bytes(), e.Bytes(), err}
		}
		check := func(name string, r result, stdout, stderr string, class string) {
			t.Helper()
			if string(r.stdout) != stdout || string(r.stderr) != stderr {
				t.Errorf("%s: stdout %d bytes %.40q, stderr %d bytes %.40q; want %d and %d bytes", name,
					len(r.stdout), r.stdout, len(r.stderr), r.stderr, len(stdout), len(stderr))
			}
			if got := errClass(r.err); got != class {
				t.Errorf("%s: error %v: %s, want %s", name, r.err, got, class)
			}
			msg := ""
			if r.err != nil {
				msg = r.err.Error()
			}
			same.record(tr, name, fmt.Sprintf("%s %s %s %q", sumOf(r.stdout), sumOf(r.stderr), errClass(r.err), msg))
		}
		exitClass := func(code int) string {
			if code == 0 {
				return "nil"
			}
			return fmt.Sprintf("*ExitError{Code:%d Signal:\"\"} ErrCmdFailed", code)
		}

		for _, code := range []int{0, 1, 42, 255} {
			name := fmt.Sprintf("exit %d", code)
			r := run(m.Command(ctx, fmt.Sprintf("printf out; printf err >&2; exit %d", code)))
			check(name, r, "out", "err", exitClass(code))
			var ee *ExitError
			if errors.As(r.err, &ee) {
				if ee.Host != m.Host() || ee.Cmd != fmt.Sprintf("printf out; printf err >&2; exit %d", code) {
					t.Errorf("%s: ExitError %+v", name, ee)
				}
				if (ee.ProcessState == nil) != (tr == TransportMux) {
					t.Errorf("%s: ProcessState %v with transport %v", name, ee.ProcessState, tr)
				}
			}
			// Output captures stderr into the error.
			_, err := m.Command(ctx, fmt.Sprintf("echo oops >&2; exit %d", code)).Output()
			if code != 0 && (!errors.As(err, &ee) || string(ee.Stderr) != "oops\n" || !strings.HasSuffix(err.Error(), ": oops")) {
				t.Errorf("%s with Output: %v", name, err)
			}
			same.record(tr, name+" Output", fmt.Sprintf("%s %v", errClass(err), err))
		}

		c := m.Command(ctx, "cat")
		c.Stdin = bytes.NewReader(data)
		check("stdin to stdout", run(c), string(data), "", "nil")
		c = m.Command(ctx, "cat >&2; exit 3")
		c.Stdin = bytes.NewReader(data)
		check("stdin to stderr", run(c), "", string(data), exitClass(3))
		check("no stdin", run(m.Command(ctx, "wc -c")), "0\n", "", "nil")
		check("no output", run(m.Command(ctx, "true")), "", "", "nil")

		// Files as streams: given to the transport as they are.
		dir := t.TempDir()
		inf, _ := os.Create(dir + "/in")
		inf.Write(data)
		inf.Seek(0, io.SeekStart)
		outf, _ := os.Create(dir + "/out")
		errf, _ := os.Create(dir + "/err")
		c = m.Command(ctx, "cat; echo done >&2; exit 7")
		c.Stdin, c.Stdout, c.Stderr = inf, outf, errf
		err := c.Run()
		inf.Close()
		outf.Close()
		errf.Close()
		o, _ := os.ReadFile(dir + "/out")
		e, _ := os.ReadFile(dir + "/err")
		check("files", result{o, e, err}, string(data), "done\n", exitClass(7))

		// os.Pipe ends (non-blocking files in Go) as Stdin and Stdout.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		qr, qw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { qw.Write(data); qw.Close() }()
		piped := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(pr); piped <- b }()
		c = m.Command(ctx, "cat")
		c.Stdin, c.Stdout = qr, pw
		err = c.Run()
		qr.Close()
		pw.Close()
		check("os.Pipe files", result{<-piped, nil, err}, string(data), "", "nil")
		pr.Close()

		// A command that is not found: status 127, its message on stderr.
		r0 := run(m.Command(ctx, "no_such_command_xyz"))
		if ee := (*ExitError)(nil); !errors.As(r0.err, &ee) || ee.Code != 127 || !bytes.Contains(r0.stderr, []byte("not found")) {
			t.Errorf("not found: %q %v", r0.stderr, r0.err)
		}
		same.record(tr, "not found", errClass(r0.err))

		// A long command line (100 kB; one argv string of ssh is at most
		// 128 KiB on Linux).
		long := strings.Repeat("0123456789", 10000)
		check("long line", run(m.Command(ctx, "printf", "%s", long)), long, "", "nil")

		// StderrToStdout: quoted arguments keep the order (a remote 2>&1).
		c = m.Command(ctx, "sh", "-c", "echo a; echo b >&2; echo c; exit 42")
		c.StderrToStdout = true
		check("StderrToStdout quoted", run(c), "a\nb\nc\n", "", exitClass(42))
		// A raw line: both streams, in any order.
		c = m.Command(ctx, "echo out; echo err >&2")
		c.StderrToStdout = true
		r := run(c)
		lines := strings.Split(strings.TrimSpace(string(r.stdout)), "\n")
		slices.Sort(lines)
		if r.err != nil || len(r.stderr) != 0 || !slices.Equal(lines, []string{"err", "out"}) {
			t.Errorf("StderrToStdout raw: %q %q %v", r.stdout, r.stderr, r.err)
		}
		c = m.Command(ctx, "sh", "-c", "cat; cat /nonexistent")
		c.Stdin = bytes.NewReader(data)
		c.StderrToStdout = true
		got, err := c.Output()
		if !bytes.HasPrefix(got, data) || !bytes.Contains(got[len(data):], []byte("/nonexistent")) || errClass(err) != exitClass(1) {
			t.Errorf("StderrToStdout with data: %d bytes, %v", len(got), err)
		}
		got, err = m.Command(ctx, "sh", "-c", "echo x; echo y >&2").CombinedOutput()
		check("CombinedOutput", result{got, nil, err}, "x\ny\n", "", "nil")

		// The exit status arrives after the remote end closed its outputs
		// early (OpenSSH's regress/multiplex.sh check 9).
		r = run(m.Command(ctx, "echo early; exec >/dev/null 2>&1; sleep 1; exit 5"))
		check("exit after closing outputs", r, "early\n", "", exitClass(5))

		// A remote command that never reads its stdin ends even when the
		// stdin is endless.
		c = m.Command(ctx, "exit 4")
		c.Stdin = endless{}
		check("unread endless stdin", noHang(t, 10*time.Second, "unread stdin", func() result { return run(c) }), "", "", exitClass(4))

		// A subsystem: sftp-server answers SSH_FXP_INIT with its version
		// (before its stdin ends: at EOF it exits without flushing).
		c = m.Command(ctx, "sftp")
		c.Subsystem = true
		sw, _ := c.StdinPipe()
		sr, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		sw.Write([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3})
		out := make([]byte, 9)
		_, rerr := io.ReadFull(sr, out)
		sw.Close()
		io.Copy(io.Discard, sr)
		err = c.Wait()
		if rerr != nil || err != nil || binary.BigEndian.Uint32(out[5:9]) != 3 || out[4] != 2 {
			t.Errorf("sftp subsystem: %x %v %v", out, rerr, err)
		}
		same.record(tr, "subsystem", fmt.Sprintf("%x %s", out[4:], errClass(err)))

		// Pipes, with a Writer error: the copy failure is an *Error.
		c = m.Command(ctx, "cat")
		c.Stdin = bytes.NewReader(data)
		c.Stdout = failWriter{}
		err = noHang(t, 10*time.Second, "failing writer", c.Run)
		t.Logf("failing writer: %v", err)
		same.record(tr, "failing writer", errClass(err))
		if !errors.Is(err, ErrSlavePipeFailed) {
			t.Errorf("failing writer: %v (%s)", err, errClass(err))
		}
	})
	same.check(t)
}

// sumOf identifies b in a short string: its length and a hash.
func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%d:%x", len(b), h[:8])
}

// endless is a Reader that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'y'
	}
	return len(p), nil
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("write refused") }

// While a command, a pty command and a tunnel run, the only ssh process with
// TransportMux is the master; with TransportProcess each has its own.
func TestTransportNoSlaveProcess(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		if n := sshtest.CountSSH(); n != 1 {
			t.Fatalf("%d ssh processes with the master alone, want 1", n)
		}
		c := m.Command(ctx, "cat")
		w, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, c, w)
		if n, want := sshtest.CountSSH(), 1+slaveSSHCount(tr); n != want {
			t.Errorf("%d ssh processes while a command runs, want %d", n, want)
		}
		if (c.Process == nil) != (tr == TransportMux) {
			t.Errorf("Process = %v with transport %v", c.Process, tr)
		}
		pc := m.Command(ctx, "cat")
		ptm, err := pc.StartPty()
		if err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, pc, ptm)
		go io.Copy(io.Discard, ptm)
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		conn, err := m.Dial("tcp", echo.addr())
		if err != nil {
			t.Fatal(err)
		}
		if n, want := sshtest.CountSSH(), 1+3*slaveSSHCount(tr); n != want {
			t.Errorf("%d ssh processes while a command, a pty command and a tunnel run, want %d", n, want)
		}
		conn.Close()
		w.Close()
		if err := c.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
		if (c.ProcessState == nil) != (tr == TransportMux) {
			t.Errorf("ProcessState = %v with transport %v", c.ProcessState, tr)
		}
		ptm.Write([]byte{4}) // ^D: EOF for cat on the remote tty
		if err := noHang(t, 10*time.Second, "pty Wait", pc.Wait); err != nil {
			t.Errorf("pty Wait: %v", err)
		}
		ptm.Close()
		// Check runs no process either (it ends before we could count
		// one, so this is the loose form: the count after it).
		if err := m.Check(ctx); err != nil {
			t.Fatal(err)
		}
		if n := sshtest.CountSSH(); n != 1 {
			t.Errorf("%d ssh processes after the operations, want 1", n)
		}
	})
}

// Check answers quickly on both transports (a loose bound; the speed target
// is in bench/).
func TestTransportCheckLatency(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx := t.Context()
		const n = 50
		ds := make([]time.Duration, n)
		for i := range ds {
			t0 := time.Now()
			if err := m.Check(ctx); err != nil {
				t.Fatalf("Check %d: %v", i, err)
			}
			ds[i] = time.Since(t0)
		}
		slices.Sort(ds)
		t.Logf("Check latency over %d calls: min %v, median %v, max %v", n, ds[0], ds[n/2], ds[n-1])
		if ds[n/2] > time.Second {
			t.Errorf("median Check latency %v", ds[n/2])
		}
		// Concurrent Checks do not block each other.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- m.Check(ctx) }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

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

// ctx cancellation, a deadline and the idle timeout end a command the same
// way on both transports.
func TestTransportCancelAndIdle(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var same sameOnBoth
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx := t.Context()
		cases := []struct {
			name string
			run  func() error
		}{
			{"cancel", func() error {
				cctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(500*time.Millisecond, cancel)
				_, err := m.Command(cctx, "sleep 30").Output()
				return err
			}},
			{"deadline", func() error {
				cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				return m.Command(cctx, "sleep 30").Run()
			}},
			{"cancel pty", func() error {
				cctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(500*time.Millisecond, cancel)
				c := m.Command(cctx, "sleep 30")
				ptm, err := c.StartPty()
				if err != nil {
					return err
				}
				go io.Copy(io.Discard, ptm)
				defer ptm.Close()
				return c.Wait()
			}},
			{"cancel pipes", func() error {
				cctx, cancel := context.WithCancel(ctx)
				time.AfterFunc(500*time.Millisecond, cancel)
				_, out, errr, c, err := m.Open3(cctx, "sleep 30")
				if err != nil {
					return err
				}
				go io.Copy(io.Discard, out)
				go io.Copy(io.Discard, errr)
				return c.Wait()
			}},
			{"idle kill", func() error {
				c := m.Command(ctx, "sleep 30")
				c.IdleTimeout = 500 * time.Millisecond
				c.KillOnTimeout = true
				return c.Run()
			}},
			{"idle kill with output", func() error {
				c := m.Command(ctx, "echo a; sleep 30")
				c.IdleTimeout = 500 * time.Millisecond
				c.KillOnTimeout = true
				_, err := c.Output()
				return err
			}},
			{"idle kill with pipes", func() error {
				c := m.Command(ctx, "cat")
				c.IdleTimeout = 500 * time.Millisecond
				c.KillOnTimeout = true
				w, err := c.StdinPipe()
				if err != nil {
					return err
				}
				defer w.Close()
				r, err := c.StdoutPipe()
				if err != nil {
					return err
				}
				if err := c.Start(); err != nil {
					return err
				}
				w.Write([]byte("x\n"))
				go io.Copy(io.Discard, r)
				return c.Wait()
			}},
		}
		// The cases run at once, each command in its own session.
		type outcome struct {
			err error
			d   time.Duration
		}
		outs := make([]outcome, len(cases))
		var wg sync.WaitGroup
		for i, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				err := c.run()
				outs[i] = outcome{err, time.Since(start)}
			}()
		}
		noHang(t, 15*time.Second, "the commands", func() bool { wg.Wait(); return true })
		for i, c := range cases {
			err, d := outs[i].err, outs[i].d
			t.Logf("%s: %v after %v", c.name, err, d)
			if d > 5*time.Second {
				t.Errorf("%s took %v", c.name, d)
			}
			switch {
			case strings.HasPrefix(c.name, "cancel"):
				if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
					t.Errorf("%s: %v (%s)", c.name, err, errClass(err))
				}
			case c.name == "deadline":
				if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
					t.Errorf("%s: %v (%s)", c.name, err, errClass(err))
				}
			default:
				if !errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s: %v (%s)", c.name, err, errClass(err))
				}
			}
			same.record(tr, c.name, errClass(err))
		}
		// The master is fine.
		if out, err := m.Capture(ctx, "echo ok"); err != nil || string(out) != "ok\n" {
			t.Errorf("after the timeouts: %q %v", out, err)
		}
	})
	same.check(t)
}

// A Cmd with ssh options of its own runs a process even with TransportMux
// (the protocol cannot carry them), with the same result.
func TestTransportSSHOptsFallBack(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		c := m.Command(t.Context(), "echo via; exit 6")
		c.SSHOpts = []string{"-o", "LogLevel=ERROR"}
		out, err := c.Output()
		var ee *ExitError
		if string(out) != "via\n" || !errors.As(err, &ee) || ee.Code != 6 {
			t.Errorf("%q %v", out, err)
		}
		if c.Process == nil || c.ProcessState == nil || ee == nil || ee.ProcessState == nil {
			t.Errorf("a Cmd with SSHOpts ran no process: Process %v ProcessState %v", c.Process, c.ProcessState)
		}
	})
}

// An Options.Transport that is neither transport is refused by New before
// anything runs.
func TestTransportInvalid(t *testing.T) {
	checkNoLeaks(t)
	for _, tr := range []Transport{-1, 2, 99} {
		dir := testCtlDir(t)
		m, err := New(t.Context(), "localhost", &Options{Transport: tr, CtlDir: dir, BatchMode: true})
		var ae *ArgError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) || ae.Arg != "Options.Transport" {
			t.Errorf("Transport %d: %v, want an *ArgError for Options.Transport", tr, err)
		}
		if m != nil {
			m.Close()
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("Transport %d: the control dir has %v", tr, ents)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("Transport(%d)", tr)) {
			t.Errorf("message %q does not name the value", err)
		}
	}
	for tr, want := range map[Transport]string{TransportProcess: "process", TransportMux: "mux", 5: "Transport(5)"} {
		if got := tr.String(); got != want {
			t.Errorf("Transport(%d).String() = %q, want %q", int(tr), got, want)
		}
	}
	if n := sshtest.CountSSH(); n != 0 {
		t.Errorf("%d ssh processes after refused New calls", n)
	}
}

// Tunnels and forwards that fail give the same typed errors on both
// transports.
func TestTransportForwardErrors(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	denying := sshtest.Start(t, sshtest.Config{AllowTCPForwarding: "no", Extra: []string{"AllowStreamLocalForwarding no"}})
	var same sameOnBoth
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		m2, _ := newTestMasterT(t, denying, nil, tr)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		closed := TCPAddr("127.0.0.1", freeTCPPort(t))
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		busyPort := busy.Addr().(*net.TCPAddr).Port
		sshd := TCPAddr("127.0.0.1", srv.Port)
		for _, c := range []struct {
			name string
			f    func() error
			want []error
		}{
			{"dial closed port", func() error { c, err := m.DialContext(ctx, "tcp", closed.String()); closeIf(c); return err },
				[]error{ErrForwardFailed, ErrConnRefused}},
			{"dial unresolvable", func() error { c, err := m.DialContext(ctx, "tcp", "no-such-host.invalid:80"); closeIf(c); return err },
				[]error{ErrForwardFailed, ErrResolve}},
			{"dial denied", func() error { c, err := m2.DialContext(ctx, "tcp", sshd.String()); closeIf(c); return err },
				[]error{ErrForwardFailed, ErrForwardDenied}},
			{"dial bad address", func() error { c, err := m.DialContext(ctx, "tcp", "127.0.0.1:0"); closeIf(c); return err },
				[]error{ErrInvalid}},
			{"local forward on a busy port", func() error {
				_, err := m.Forward(ctx, ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", busyPort), Connect: sshd})
				return err
			}, []error{ErrForwardFailed}},
			{"cancel unknown forward", func() error {
				return m.CancelForward(ctx, ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", freeTCPPort(t)), Connect: sshd})
			}, []error{ErrForwardFailed}},
			{"remote forward denied", func() error {
				_, err := m2.Forward(ctx, ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("127.0.0.1", 0), Connect: sshd})
				return err
			}, []error{ErrForwardFailed}},
			{"remote forward on a busy port", func() error {
				_, err := m.Forward(ctx, ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("127.0.0.1", busyPort), Connect: sshd})
				return err
			}, []error{ErrForwardFailed}},
			{"listen denied", func() error {
				l, err := m2.Listen(ctx, "tcp", "127.0.0.1:0")
				if l != nil {
					l.Close()
				}
				return err
			}, []error{ErrForwardFailed}},
		} {
			start := time.Now()
			err := noHang(t, 10*time.Second, c.name, c.f)
			t.Logf("%s: %v after %v", c.name, err, time.Since(start))
			for _, w := range c.want {
				if !errors.Is(err, w) {
					t.Errorf("%s: %v (%s), want %v", c.name, err, errClass(err), w)
				}
			}
			same.record(tr, c.name, errClass(err))
		}
		if m.Err() != nil || m2.Err() != nil {
			t.Errorf("masters broken by the failures: %v, %v", m.Err(), m2.Err())
		}
	})
	same.check(t)
}

// Stop lets a running command finish and refuses new ones; Close ends the
// master under a running command; both the same way on both transports
// (OpenSSH's regress/multiplex.sh check 18, and the errors after).
func TestTransportStopAndCloseWhileRunning(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var same sameOnBoth
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()

		m, _ := newTestMasterT(t, srv, nil, tr)
		c := m.Command(ctx, "sleep 0.6; echo done")
		var out bytes.Buffer
		c.Stdout = &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, c)
		time.Sleep(200 * time.Millisecond)
		if err := m.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		err := noHang(t, 10*time.Second, "Wait after Stop", c.Wait)
		if err != nil || out.String() != "done\n" {
			t.Errorf("command running at Stop: %q %v", out.String(), err)
		}
		err = m.System(ctx, "true")
		if !errors.Is(err, ErrMasterStopped) || !errors.Is(err, ErrMasterFailed) {
			t.Errorf("command after Stop: %v", err)
		}
		same.record(tr, "after stop", errClass(err))
		conn, err := m.Dial("tcp", TCPAddr("127.0.0.1", srv.Port).String())
		closeIf(conn)
		if !errors.Is(err, ErrMasterStopped) {
			t.Errorf("Dial after Stop: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close after Stop: %v", err)
		}

		m2, _ := newTestMasterT(t, srv, nil, tr)
		c = m2.Command(ctx, "sleep 30")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, c)
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		if err := noHang(t, 10*time.Second, "Close", m2.Close); err != nil {
			t.Errorf("Close: %v", err)
		}
		err = noHang(t, 10*time.Second, "Wait after Close", c.Wait)
		t.Logf("command running at Close: %v after %v", err, time.Since(start))
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrMasterFailed) && !errors.Is(err, ErrSlaveFailed) {
			t.Errorf("command running at Close: %v (%s)", err, errClass(err))
		}
		same.record(tr, "running at close", errClass(err))
		err = m2.System(ctx, "true")
		if !errors.Is(err, ErrClosed) {
			t.Errorf("command after Close: %v", err)
		}
		same.record(tr, "after close", errClass(err))
	})
	same.check(t)
}

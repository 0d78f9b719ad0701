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

package mux_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.uber.org/goleak"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/mux"
	"github.com/goopenssh/openssh/internal/sshtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// muxMaster starts a server (cfg) and an openssh master on it with the
// extra master options, both ended when the test ends.
func muxMaster(t *testing.T, cfg sshtest.Config, masterOpts ...string) *openssh.Master {
	t.Helper()
	srv := sshtest.Start(t, cfg)
	dir, err := os.MkdirTemp("", "omux")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := openssh.New(ctx, srv.Addr, &openssh.Options{
		ConfigFile: srv.SSHConfig, CtlDir: dir, BatchMode: true, Timeout: 20 * time.Second,
		MasterOpts: masterOpts,
	})
	if err != nil {
		t.Fatalf("openssh.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// muxDial connects to m's control socket; the Conn is closed at the end.
func muxDial(t *testing.T, m *openssh.Master) *mux.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mux.Dial(ctx, m.CtlPath())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// muxResult is what a session run by muxRun produced.
type muxResult struct {
	stdout, stderr string
	status         int
	ttyFail        bool
	err            error
}

// muxStart opens a session with pipes for its stdio. It returns the session,
// the stdin writer (nil when stdin is nil) and a function that collects the
// output and waits.
func muxStart(t *testing.T, c *mux.Conn, req mux.SessionRequest, withStdin bool) (*mux.Session, *os.File, func() muxResult, error) {
	t.Helper()
	var inR, inW *os.File
	var err error
	if withStdin {
		if inR, inW, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := c.NewSession(ctx, req, inR, outW, errW)
	// The master holds its own copies now.
	outW.Close()
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return nil, nil, nil, err
	}
	var wg sync.WaitGroup
	var stdout, stderr []byte
	wg.Add(2)
	go func() { defer wg.Done(); stdout, _ = io.ReadAll(outR); outR.Close() }()
	go func() { defer wg.Done(); stderr, _ = io.ReadAll(errR); errR.Close() }()
	finish := func() muxResult {
		wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer wcancel()
		status, werr := s.Wait(wctx)
		wg.Wait()
		return muxResult{string(stdout), string(stderr), status, s.TTYAllocFailed(), werr}
	}
	return s, inW, finish, nil
}

// muxRun runs command with stdin as its input and returns what it produced.
func muxRun(t *testing.T, c *mux.Conn, command string, stdin []byte) muxResult {
	t.Helper()
	_, inW, finish, err := muxStart(t, c, mux.SessionRequest{Command: command}, stdin != nil)
	if err != nil {
		return muxResult{status: -1, err: err}
	}
	if inW != nil {
		go func() { inW.Write(stdin); inW.Close() }()
	}
	return finish()
}

// muxEchoServer listens on loopback and echoes every connection; it is
// closed at the end of the test.
func muxEchoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Hide the TCPConn types: io.Copy would splice(2) through
				// pipes that the runtime caches, which looks like an fd leak.
				io.Copy(struct{ io.Writer }{conn}, struct{ io.Reader }{conn})
				conn.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

// muxFreePort returns a loopback TCP port that is free right now.
func muxFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// muxEcho sends msg through a TCP connection to addr and returns what comes
// back.
func muxEcho(addr, msg string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		return "", err
	}
	conn.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(conn)
	return string(b), err
}

func TestMuxLive(t *testing.T) {
	m := muxMaster(t, sshtest.Config{})
	fds := sshtest.OpenFDs() // the server's and master's own pipes are open by now
	ctx := t.Context()

	t.Run("HelloAlive", func(t *testing.T) {
		c := muxDial(t, m)
		for i := 0; i < 3; i++ { // request ids increase on one connection
			pid, err := c.AliveCheck(ctx)
			if err != nil {
				t.Fatalf("AliveCheck %d: %v", i, err)
			}
			if pid != m.MasterPID() {
				t.Errorf("AliveCheck pid %d, master pid %d", pid, m.MasterPID())
			}
		}
		start := time.Now()
		if _, err := c.AliveCheck(ctx); err != nil || time.Since(start) > time.Second {
			t.Errorf("AliveCheck: %v after %v", err, time.Since(start))
		}
	})

	t.Run("ExitStatusAndOutput", func(t *testing.T) {
		c := muxDial(t, m)
		r := muxRun(t, c, "printf hello; printf err >&2; exit 7", nil)
		if r.err != nil || r.status != 7 || r.stdout != "hello" || r.stderr != "err" {
			t.Errorf("got status %d err %v stdout %q stderr %q; want 7, nil, hello, err", r.status, r.err, r.stdout, r.stderr)
		}
		// The connection belongs to the (ended) session.
		if _, err := c.AliveCheck(ctx); !errors.Is(err, mux.ErrConnBusy) && !errors.Is(err, mux.ErrConnClosed) {
			t.Errorf("AliveCheck on a session's connection: %v, want ErrConnBusy or ErrConnClosed", err)
		}
	})

	t.Run("StdinRoundTrip", func(t *testing.T) {
		data := make([]byte, 1<<20)
		rand.Read(data)
		c := muxDial(t, m)
		r := muxRun(t, c, "cat", data)
		if r.err != nil || r.status != 0 {
			t.Fatalf("cat: status %d, %v, stderr %q", r.status, r.err, r.stderr)
		}
		if !bytes.Equal([]byte(r.stdout), data) {
			t.Errorf("cat returned %d bytes, differing from the 1 MiB sent", len(r.stdout))
		}
	})

	t.Run("TTY", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatalf("no pty: %v", err)
		}
		defer ptmx.Close()
		c := muxDial(t, m)
		s, err := c.NewSession(ctx, mux.SessionRequest{Command: "test -t 0 && test -t 1 && echo is-a-tty; exit 3", TTY: true, Term: "vt100"}, tty, tty, tty)
		tty.Close()
		if err != nil {
			t.Fatalf("NewSession: %v", err)
		}
		out := make(chan string, 1)
		go func() { b, _ := io.ReadAll(ptmx); out <- string(b) }() // EIO once the master closes the tty
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		status, err := s.Wait(wctx)
		if err != nil || status != 3 || s.TTYAllocFailed() {
			t.Errorf("Wait: %d, %v (tty alloc failed: %v); want 3", status, err, s.TTYAllocFailed())
		}
		if o := <-out; !strings.Contains(o, "is-a-tty") {
			t.Errorf("output %q: the remote command did not see a tty", o)
		}
	})

	t.Run("SignalKilled", func(t *testing.T) {
		c := muxDial(t, m)
		start := time.Now()
		r := muxRun(t, c, "printf before; kill -9 $$", nil)
		// mux.c relays only "exit-status": for an "exit-signal" nothing is
		// sent, and the master just closes the control connection.
		if !errors.Is(r.err, mux.ErrNoExitMessage) || errors.Is(r.err, mux.ErrMasterGone) || r.status != -1 {
			t.Errorf("got %d, %v; want -1 and ErrNoExitMessage", r.status, r.err)
		}
		if r.stdout != "before" {
			t.Errorf("stdout %q, want %q", r.stdout, "before")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
		// The master is fine.
		if _, err := muxDial(t, m).AliveCheck(ctx); err != nil {
			t.Errorf("AliveCheck after: %v", err)
		}
	})

	t.Run("AbandonAndContext", func(t *testing.T) {
		c := muxDial(t, m)
		s, inW, finish, err := muxStart(t, c, mux.SessionRequest{Command: "cat"}, true)
		if err != nil {
			t.Fatal(err)
		}
		defer inW.Close()
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := s.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait with a short deadline: %v, want DeadlineExceeded", err)
		}
		if r := finish(); !errors.Is(r.err, mux.ErrConnClosed) {
			t.Errorf("second Wait: %v", r.err)
		}
		s.Close()
	})

	t.Run("StdioForward", func(t *testing.T) {
		ln := muxEchoServer(t)
		c := muxDial(t, m)
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		defer outR.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		f, err := c.NewStdioForward(ctx, mux.Endpoint{Host: "127.0.0.1", Port: port}, inR, outW)
		inR.Close()
		outW.Close()
		if err != nil {
			inW.Close()
			t.Fatalf("NewStdioForward: %v", err)
		}
		io.WriteString(inW, "ping through stdio forward\n")
		inW.Close()
		got, _ := io.ReadAll(outR)
		if string(got) != "ping through stdio forward\n" {
			t.Errorf("echo %q", got)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := f.Wait(wctx); err != nil {
			t.Errorf("forward Wait: %v", err)
		}
		// The master lives on.
		if pid, err := muxDial(t, m).AliveCheck(ctx); err != nil || pid != m.MasterPID() {
			t.Errorf("AliveCheck after the forward: %d, %v (master pid %d)", pid, err, m.MasterPID())
		}
	})

	t.Run("LocalForward", func(t *testing.T) {
		ln := muxEchoServer(t)
		c := muxDial(t, m)
		lport := muxFreePort(t)
		fwd := mux.Forward{
			Type:    mux.ForwardLocal,
			Listen:  mux.Endpoint{Host: "127.0.0.1", Port: lport},
			Connect: mux.Endpoint{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port},
		}
		p, err := c.OpenForward(ctx, fwd)
		if err != nil || p != lport {
			t.Fatalf("OpenForward: %d, %v", p, err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lport))
		if got, err := muxEcho(addr, "via -L"); err != nil || got != "via -L" {
			t.Errorf("through the forward: %q, %v", got, err)
		}
		if err := c.CloseForward(ctx, fwd); err != nil {
			t.Fatalf("CloseForward: %v", err)
		}
		if _, err := muxEcho(addr, "x"); err == nil {
			t.Errorf("the forward still works after CloseForward")
		}
		err = c.CloseForward(ctx, fwd)
		var re *mux.ReplyError
		if !errors.Is(err, mux.ErrRequestFailed) || !errors.As(err, &re) || re.Reason == "" {
			t.Errorf("second CloseForward: %v, want a ReplyError matching ErrRequestFailed", err)
		}
	})

	t.Run("RemoteForwardPort0", func(t *testing.T) {
		ln := muxEchoServer(t)
		c := muxDial(t, m)
		fwd := mux.Forward{
			Type:    mux.ForwardRemote,
			Listen:  mux.Endpoint{Host: "127.0.0.1", Port: 0},
			Connect: mux.Endpoint{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port},
		}
		p, err := c.OpenForward(ctx, fwd)
		if err != nil || p <= 0 || p > 65535 {
			t.Fatalf("OpenForward: %d, %v; want an allocated port", p, err)
		}
		if got, err := muxEcho(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), "via -R"); err != nil || got != "via -R" {
			t.Errorf("through the forward: %q, %v", got, err)
		}
		if err := c.CloseForward(ctx, fwd); err != nil {
			t.Errorf("CloseForward: %v", err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		c := muxDial(t, m)
		cases := []struct {
			name string
			err  error
		}{
			{"forward type", func() error { _, err := c.OpenForward(ctx, mux.Forward{Type: 9}); return err }()},
			{"port", func() error {
				_, err := c.OpenForward(ctx, mux.Forward{Type: mux.ForwardLocal, Listen: mux.Endpoint{Port: 70000}, Connect: mux.Endpoint{Host: "h", Port: 1}})
				return err
			}()},
			{"no connect", func() error {
				_, err := c.OpenForward(ctx, mux.Forward{Type: mux.ForwardLocal, Listen: mux.Endpoint{Port: 1}})
				return err
			}()},
			{"NUL", func() error {
				_, err := c.NewSession(ctx, mux.SessionRequest{Command: "echo \x00"}, nil, nil, nil)
				return err
			}()},
			{"env", func() error {
				_, err := c.NewSession(ctx, mux.SessionRequest{Command: "true", Env: []string{"NOEQUALS"}}, nil, nil, nil)
				return err
			}()},
			{"stdio host", func() error { _, err := c.NewStdioForward(ctx, mux.Endpoint{Port: 22}, nil, nil); return err }()},
		}
		for _, tc := range cases {
			if !errors.Is(tc.err, mux.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", tc.name, tc.err)
			}
		}
		// Nothing was sent: the connection still works.
		if _, err := c.AliveCheck(ctx); err != nil {
			t.Errorf("AliveCheck after invalid requests: %v", err)
		}
		c.Close()
		if _, err := c.AliveCheck(ctx); !errors.Is(err, mux.ErrConnClosed) {
			t.Errorf("AliveCheck after Close: %v, want ErrConnClosed", err)
		}
		ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := mux.Dial(ctx2, m.CtlPath()+".missing"); !errors.Is(err, mux.ErrMasterGone) {
			t.Errorf("Dial of a missing socket: %v, want ErrMasterGone", err)
		}
	})

	if t.Failed() {
		return
	}
	// No fd is left open by the subtests.
	deadline := time.Now().Add(3 * time.Second)
	for sshtest.OpenFDs() > fds && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := sshtest.OpenFDs(); n > fds {
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			t.Logf("fd %s -> %s", e.Name(), l)
		}
		t.Errorf("fd leak: %d open, %d before", n, fds)
	}
}

// A server with MaxSessions 1 refuses a second session while the first
// runs: the error is typed and nothing hangs.
func TestMuxSessionRefused(t *testing.T) {
	m := muxMaster(t, sshtest.Config{MaxSessions: 1})
	ctx := t.Context()
	_, inW, finish, err := muxStart(t, muxDial(t, m), mux.SessionRequest{Command: "cat"}, true)
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	start := time.Now()
	_, err = muxDial(t, m).NewSession(ctx, mux.SessionRequest{Command: "true"}, nil, nil, nil)
	var re *mux.ReplyError
	if !errors.Is(err, mux.ErrSessionRefused) || !errors.Is(err, mux.ErrRequestFailed) || !errors.As(err, &re) {
		t.Errorf("second session: %v, want a ReplyError matching ErrSessionRefused", err)
	} else {
		t.Logf("refusal: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refusal took %v", d)
	}
	io.WriteString(inW, "still here")
	inW.Close()
	if r := finish(); r.err != nil || r.status != 0 || r.stdout != "still here" {
		t.Errorf("first session: %d, %v, %q", r.status, r.err, r.stdout)
	}
}

// A master killed in the middle of a session gives ErrMasterGone, promptly.
func TestMuxMasterKilled(t *testing.T) {
	m := muxMaster(t, sshtest.Config{})
	_, inW, finish, err := muxStart(t, muxDial(t, m), mux.SessionRequest{Command: "sleep 30"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer inW.Close()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := syscall.Kill(m.MasterPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := finish()
	if !errors.Is(r.err, mux.ErrMasterGone) || r.status != -1 {
		t.Errorf("got %d, %v; want -1 and ErrMasterGone", r.status, r.err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := mux.Dial(ctx, m.CtlPath()); !errors.Is(err, mux.ErrMasterGone) {
		t.Errorf("Dial after the master died: %v, want ErrMasterGone", err)
	}
}

// StopListening removes the socket; Terminate ends the master.
func TestMuxStopAndTerminate(t *testing.T) {
	ctx := t.Context()
	m := muxMaster(t, sshtest.Config{})
	c := muxDial(t, m)
	if err := c.StopListening(ctx); err != nil {
		t.Fatalf("StopListening: %v", err)
	}
	if _, err := os.Lstat(m.CtlPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after StopListening: %v", err)
	}
	// The connection made before still works, and can end the master.
	pid, err := c.AliveCheck(ctx)
	if err != nil {
		t.Fatalf("AliveCheck after StopListening: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Terminate(tctx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	for syscall.Kill(pid, 0) == nil && time.Since(start) < 3*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	// The master is our child: until openssh reaps it, it is a zombie.
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Errorf("master %d still running after Terminate", pid)
	}
	if _, err := c.AliveCheck(ctx); !errors.Is(err, mux.ErrConnClosed) {
		t.Errorf("AliveCheck after Terminate: %v, want ErrConnClosed", err)
	}
}

// Env entries pass only if they match the master's SendEnv (and the
// server's AcceptEnv); a refused TTY gives MUX_S_TTY_ALLOC_FAIL and the
// session runs on without one.
func TestMuxEnvAndTTYAllocFail(t *testing.T) {
	m := muxMaster(t, sshtest.Config{Extra: []string{"PermitTTY no", "AcceptEnv MUXTEST_*"}}, "-o", "SendEnv=MUXTEST_A")
	_, _, finish, err := muxStart(t, muxDial(t, m), mux.SessionRequest{
		Command: `printf '%s %s' "${MUXTEST_A-unset}" "${MUXTEST_B-unset}"`,
		Env:     []string{"MUXTEST_A=passed", "MUXTEST_B=filtered"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := finish(); r.err != nil || r.status != 0 || r.stdout != "passed unset" {
		t.Errorf("env session: %d, %v, %q; want 0, nil, %q", r.status, r.err, r.stdout, "passed unset")
	}

	_, _, finish, err = muxStart(t, muxDial(t, m), mux.SessionRequest{Command: "echo hi; exit 4", TTY: true, Term: "vt100"}, false)
	if err != nil {
		t.Fatal(err)
	}
	r := finish()
	if r.err != nil || r.status != 4 || !r.ttyFail || strings.TrimSpace(r.stdout) != "hi" {
		t.Errorf("tty session: status %d, %v, tty alloc failed %v, stdout %q; want 4, nil, true, hi", r.status, r.err, r.ttyFail, r.stdout)
	}
	if !strings.Contains(r.stderr, "PTY allocation request failed") {
		t.Errorf("stderr %q lacks the master's PTY failure note", r.stderr)
	}
}

package openssh

// Cancellation, idle timeouts, invalid input, forward errors and Stop/Close
// while commands run, on both transports.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

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

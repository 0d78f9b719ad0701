package openssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// remoteProcs returns the remote processes whose command line holds mark,
// as ps shows them through a session of their own.
func remoteProcs(t *testing.T, m *Master, mark string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := m.Capture(ctx, "ps -eo args=")
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	var found []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, mark) {
			found = append(found, strings.TrimSpace(l))
		}
	}
	return found
}

// waitRemoteGone fails the test when a remote process holding mark is
// still there 3 s after the call.
func waitRemoteGone(t *testing.T, m *Master, mark string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := remoteProcs(t, m, mark)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still running on the server 3 s later: %q", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRemoteUp waits until a remote process holding mark runs.
func waitRemoteUp(t *testing.T, m *Master, mark string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(remoteProcs(t, m, mark)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no remote process %q after 10 s", mark)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// uniqueSleep returns "sleep 3NNNNN", a command no other test runs.
func uniqueSleep() string { return fmt.Sprintf("sleep %d", 300000+rand.IntN(99999)) }

// TestStopRemote: giving up on a command stops the remote process and
// what it started, on both transports, with and without a tty.
func TestStopRemote(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		t.Run("Cancel", func(t *testing.T) {
			s := uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, s)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitRemoteUp(t, m, s)
			cancel()
			t0 := time.Now()
			err := c.Wait()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			if d := time.Since(t0); d > 2*time.Second {
				t.Errorf("Wait took %v after cancel", d)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("Immediate", func(t *testing.T) {
			// Cancelled before the remote shell has recorded its pid.
			s := uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, s)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("Tree", func(t *testing.T) {
			a, b := uniqueSleep(), uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, "sh -c '"+a+" & "+b+" & wait'")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitRemoteUp(t, m, a)
			waitRemoteUp(t, m, b)
			cancel()
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			waitRemoteGone(t, m, a)
			waitRemoteGone(t, m, b)
		})
		t.Run("Tty", func(t *testing.T) {
			s := uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, s)
			c.Tty = true
			c.Stdout = io.Discard
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitRemoteUp(t, m, s)
			cancel()
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("IdleTimeout", func(t *testing.T) {
			s := uniqueSleep()
			c := m.Command(t.Context(), s)
			c.IdleTimeout = time.Second
			t0 := time.Now()
			err := c.Run()
			d := time.Since(t0)
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("err %v, want ErrTimeout", err)
			}
			if d > 3*time.Second {
				t.Errorf("IdleTimeout 1 s returned after %v, want under 3 s", d)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("IgnoresTERM", func(t *testing.T) {
			// A group that ignores TERM gets KILL after StopGrace.
			s := uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, "trap '' TERM; "+s)
			c.StopGrace = 500 * time.Millisecond
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitRemoteUp(t, m, s)
			cancel()
			t0 := time.Now()
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			if d := time.Since(t0); d > 3*time.Second {
				t.Errorf("Wait took %v after cancel", d)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("EndsWhileLooking", func(t *testing.T) {
			// A command that ends by itself while the stop script looks
			// for its shell (which then finds none, for up to 3 s):
			// Wait returns once the session is over.
			for i := range 20 {
				ctx, cancel := context.WithCancel(t.Context())
				c := m.Command(ctx, "true")
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(i%5) * time.Millisecond)
				t0 := time.Now()
				cancel()
				c.Wait()
				if d := time.Since(t0); d > 2500*time.Millisecond {
					t.Errorf("round %d: Wait took %v after cancel", i, d)
				}
			}
		})
		t.Run("Exec", func(t *testing.T) {
			// A line that exec's is found through its pid file.
			s := uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, "exec "+s)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if c.rr == nil || c.rr.scan {
				t.Fatalf("exec line: no pid file")
			}
			waitRemoteUp(t, m, s)
			cancel()
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("PS", func(t *testing.T) {
			// The shell found with ps, as on the BSDs and macOS; with a
			// tty on the process transport the local ssh, which holds
			// the line in its arguments, leads a session too.
			m.rctl.mu.Lock()
			m.rctl.usePS = true
			m.rctl.mu.Unlock()
			defer func() {
				m.rctl.mu.Lock()
				m.rctl.usePS = false
				m.rctl.mu.Unlock()
			}()
			for _, tty := range []bool{false, true} {
				s := uniqueSleep()
				ctx, cancel := context.WithCancel(t.Context())
				c := m.Command(ctx, s)
				c.Tty = tty
				c.Stdout = io.Discard
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				if c.rr == nil || !c.rr.usePS {
					t.Fatalf("not set up for ps")
				}
				waitRemoteUp(t, m, s)
				cancel()
				if err := c.Wait(); !errors.Is(err, context.Canceled) {
					t.Errorf("tty %v: err %v, want context.Canceled", tty, err)
				}
				waitRemoteGone(t, m, s)
			}
		})
		t.Run("KeepRemote", func(t *testing.T) {
			s := uniqueSleep()
			ctx, cancel := context.WithCancel(t.Context())
			c := m.Command(ctx, s)
			c.KeepRemote = true
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitRemoteUp(t, m, s)
			cancel()
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			time.Sleep(500 * time.Millisecond)
			if len(remoteProcs(t, m, s)) == 0 {
				t.Errorf("KeepRemote: the remote command was stopped")
			}
			// Clean up what the test left.
			m.System(t.Context(), "pkill -f '^"+s+"$'")
		})
	})
}

// TestStopAllSessionsBusy: with every session slot taken by commands, the
// one the Master keeps still lets it stop them all.
func TestStopAllSessionsBusy(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{MaxSessions: 3})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		opts := testOptionsT(t, srv, tr)
		opts.MaxSessions = 3
		m, _ := newTestMaster(t, srv, opts)
		watch, _ := newTestMasterT(t, srv, nil, tr) // m has no slot for ps
		ctx, cancel := context.WithCancel(t.Context())
		var sleeps []string
		var cmds []*Cmd
		for range 2 {
			s := uniqueSleep()
			c := m.Command(ctx, s)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			sleeps, cmds = append(sleeps, s), append(cmds, c)
		}
		for _, s := range sleeps {
			waitRemoteUp(t, watch, s)
		}
		cancel()
		for _, c := range cmds {
			if err := c.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
		}
		for _, s := range sleeps {
			waitRemoteGone(t, watch, s)
		}
	})
}

// TestRemoteSignal: Cmd.Signal reaches a trap in the remote script, and a
// shell killed by a signal reports it in ExitError.Signal.
func TestRemoteSignal(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		t.Run("Trap", func(t *testing.T) {
			c := m.Command(t.Context(), "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.1; done")
			r, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 6)
			if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "ready\n" {
				t.Fatalf("read %q, %v", buf, err)
			}
			if err := c.Signal(syscall.SIGUSR1); err != nil {
				t.Fatalf("Signal: %v", err)
			}
			rest, _ := io.ReadAll(r)
			err = c.Wait()
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 7 {
				t.Errorf("err %v, want exit status 7", err)
			}
			if string(rest) != "got USR1\n" {
				t.Errorf("output %q, want the trap's", rest)
			}
		})
		t.Run("WhileWaiting", func(t *testing.T) {
			c := m.Command(t.Context(), "trap 'exit 9' USR2; echo ready; while :; do sleep 0.1; done")
			r, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			io.ReadFull(r, make([]byte, 6))
			werr := make(chan error, 1)
			go func() { werr <- c.Wait() }()
			if err := c.Signal(syscall.SIGUSR2); err != nil {
				t.Fatalf("Signal: %v", err)
			}
			var ee *ExitError
			if err := <-werr; !errors.As(err, &ee) || ee.Code != 9 {
				t.Errorf("err %v, want exit status 9", err)
			}
			var ae *ArgError
			if err := c.Signal(syscall.SIGUSR2); !errors.As(err, &ae) {
				t.Errorf("Signal after the end: %v", err)
			}
		})
		t.Run("KillSelf", func(t *testing.T) {
			err := m.Command(t.Context(), "kill -TERM $$").Run()
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Signal != "TERM" {
				t.Fatalf("err %v (%#v), want ExitError.Signal TERM", err, ee)
			}
			if !strings.Contains(err.Error(), "killed by signal TERM") {
				t.Errorf("message %q", err)
			}
		})
		t.Run("SignalTERM", func(t *testing.T) {
			s := uniqueSleep()
			// A deadline, so that a signal that does not arrive fails
			// the test (the ctx then stops the command) instead of
			// hanging it.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c := m.Command(ctx, s)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			// Right after Start: the control script waits until the
			// shell has started the command before it signals
			// (TestSignalRightAfterStart repeats this many times).
			if err := c.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			var ee *ExitError
			if err := c.Wait(); !errors.As(err, &ee) || ee.Signal != "TERM" {
				t.Errorf("err %v, want ExitError.Signal TERM", err)
			}
			waitRemoteGone(t, m, s)
		})
		t.Run("Record", func(t *testing.T) {
			// The record of the signal is read and removed by Wait
			// (the server is local: its /tmp is ours).
			c := m.Command(t.Context(), "kill -USR1 $$")
			var ee *ExitError
			if err := c.Run(); !errors.As(err, &ee) || ee.Signal != "USR1" {
				t.Fatalf("err %v, want ExitError.Signal USR1", err)
			}
			if _, err := os.Stat(c.rr.path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the record %s is left: %v", c.rr.path, err)
			}
			m.rctl.mu.Lock()
			left := m.rctl.records[c.rr.path]
			m.rctl.mu.Unlock()
			if left {
				t.Errorf("a record that Wait removed is kept for Close")
			}
		})
		t.Run("HiddenExec", func(t *testing.T) {
			// A function that exec's (quoted so that the line does not
			// show it) replaces the shell: it cannot be found, and
			// Signal says so.
			s := uniqueSleep()
			c := m.Command(t.Context(), "f() { ex''ec "+s+"; }; f")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			waitRemoteUp(t, m, s)
			err := c.Signal(syscall.SIGTERM)
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), "no remote shell runs the command after 3 s") {
				t.Errorf("Signal: %v, want the shell not found", err)
			}
			// "[s]leep" does not match pkill's own shell.
			if err := m.System(t.Context(), "pkill -f '[s]"+s[1:]+"'"); err != nil {
				t.Errorf("pkill: %v", err)
			}
			c.Wait()
			waitRemoteGone(t, m, s)
		})
		t.Run("BadUse", func(t *testing.T) {
			var ae *ArgError
			c := m.Command(t.Context(), "true")
			if err := c.Signal(syscall.SIGTERM); !errors.As(err, &ae) {
				t.Errorf("before Start: %v", err)
			}
			if err := c.Signal(syscall.Signal(99)); !errors.As(err, &ae) {
				t.Errorf("signal 99: %v", err)
			}
			c = m.Command(t.Context(), "sleep 1")
			c.KeepRemote = true
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if err := c.Signal(syscall.SIGTERM); !errors.As(err, &ae) {
				t.Errorf("KeepRemote: %v", err)
			}
			c.Wait()
		})
	})
}

// TestWrapperTransparent: the wrapper changes no byte of the output and no
// exit status, and works with Dir, Env and quoting; its file is private and
// removed by Close.
func TestWrapperTransparent(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		t.Run("Binary", func(t *testing.T) {
			data := make([]byte, 20<<20)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				if i%7 == 0 {
					continue // NULs
				}
				data[i] = byte(r.Uint32())
			}
			var out, errb bytes.Buffer
			c := m.Command(t.Context(), "tee /dev/fd/2")
			c.Stdin = bytes.NewReader(data)
			c.Stdout, c.Stderr = &out, &errb
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) || !bytes.Equal(errb.Bytes(), data) {
				t.Errorf("round trip changed the data: stdout %d bytes, stderr %d bytes, sent %d", out.Len(), errb.Len(), len(data))
			}
		})
		cases := []struct {
			name string
			set  func(c *Cmd)
			args []string
		}{
			{"exit0", nil, []string{"true"}},
			{"exit1", nil, []string{"false"}},
			{"exit44", nil, []string{"echo out; echo err >&2; exit 44"}},
			{"exit127", nil, []string{"no-such-command-goopenssh"}},
			{"lineno", nil, []string{"echo $LINENO"}},
			{"syntax", nil, []string{"echo a; )"}},
			{"comment", nil, []string{"echo a # a comment"}},
			{"quoted", nil, []string{"printf", "%s|", "a b", "it's", "$HOME", "*", "\n"}},
			{"dir", func(c *Cmd) { c.Dir = "/tmp" }, []string{"pwd"}},
			{"env", func(c *Cmd) { c.Env = []string{"GOOSSH_X=a 'b' $c"} }, []string{"printf", "%s", "$GOOSSH_X"}},
			{"env-expanded", func(c *Cmd) { c.Env = []string{"GOOSSH_X=a 'b'"} }, []string{`printf %s "$GOOSSH_X"`}},
			{"stdin", func(c *Cmd) { c.Stdin = strings.NewReader("line1\nline2") }, []string{"wc -c; cat"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				run := func(keep bool) (string, string, error) {
					c := m.Command(t.Context(), tc.args...)
					if tc.set != nil {
						tc.set(c)
					}
					c.KeepRemote = keep
					var out, errb bytes.Buffer
					c.Stdout, c.Stderr = &out, &errb
					err := c.Run()
					if !keep && c.rr == nil {
						t.Errorf("the command was not wrapped")
					}
					return out.String(), errb.String(), err
				}
				o1, e1, err1 := run(false)
				o2, e2, err2 := run(true)
				if o1 != o2 || e1 != e2 || fmt.Sprint(err1) != fmt.Sprint(err2) {
					t.Errorf("wrapped: %q %q %v\nplain:   %q %q %v", o1, e1, err1, o2, e2, err2)
				}
			})
		}
		t.Run("Unwritable", func(t *testing.T) {
			// A line that may exec records its pid in a file. The file
			// cannot be written (here: a directory in its place; a
			// read-only /tmp fails the same way): the command runs, its
			// output and status unchanged.
			if os.Geteuid() != 0 {
				skipOrFail(t, "needs root: the remote account must not own the blocker")
			}
			if err := m.System(t.Context(), "exec true"); err != nil {
				t.Fatal(err)
			}
			busy := m.Command(t.Context(), "exec sleep 5") // holds slot 0
			if err := busy.Start(); err != nil {
				t.Fatal(err)
			}
			defer busy.Wait()
			defer busy.Signal(syscall.SIGKILL)
			blocker := m.rctl.prefix + "1"
			if err := os.Mkdir(blocker, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(blocker)
			c := m.Command(t.Context(), "echo out; echo err >&2; exec sh -c 'exit 3'")
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			err := c.Run()
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 3 || out.String() != "out\n" || errb.String() != "err\n" {
				t.Errorf("got %q %q %v, want \"out\\n\" \"err\\n\" and status 3", out.String(), errb.String(), err)
			}
			if c.rr == nil || c.rr.slot != 1 {
				t.Errorf("the command did not use slot 1")
			}
		})
		t.Run("Files", func(t *testing.T) {
			// The server is local: its /tmp is ours. A plain line adds
			// no file, and nothing for Close to remove.
			count := func() (files, made, records int) {
				left, _ := filepath.Glob(m.rctl.prefix + "*")
				m.rctl.mu.Lock()
				defer m.rctl.mu.Unlock()
				return len(left), len(m.rctl.made), len(m.rctl.records)
			}
			f0, m0, r0 := count()
			c := m.Command(t.Context(), "true")
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			prefix := m.rctl.prefix
			if !c.rr.scan {
				t.Errorf("a plain line got a pid file")
			}
			if f1, m1, r1 := count(); f1 != f0 || m1 != m0 || r1 != r0 {
				t.Errorf("a plain command changed the files (%d to %d), pid files (%d to %d) or records (%d to %d)", f0, f1, m0, m1, r0, r1)
			}
			// A line that may exec gets a private pid file, marked done
			// when the line ends (here it does not exec).
			c = m.Command(t.Context(), "echo exec")
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			if c.rr.scan || c.rr.slot != 0 {
				t.Errorf("a line with exec was left to the process list, or not in slot 0")
			}
			st, err := os.Stat(prefix + "0")
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			if b, _ := os.ReadFile(prefix + "0"); !bytes.HasPrefix(b, []byte("x")) {
				t.Errorf("the file holds %q after the command ended, want it marked done", b)
			}
			m.Close()
			if left, _ := filepath.Glob(prefix + "*"); len(left) > 0 {
				t.Errorf("left after Close: %q", left)
			}
		})
	})
}

// TestMayExec: the lines that get a pid file instead of being found by
// their token.
func TestMayExec(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"true", false},
		{"echo a.b; ls ./x ../y", false},
		{"cd /tmp && make", false},
		{"printf %s '.'", false},
		{"exec sleep 1", true},
		{"cd /x; exec 2>&1; run", true},
		{"eval \"$x\"", true},
		{"source ~/.profile; run", true},
		{". ./env.sh && run", true},
		{"a; . x", true},
		{"(. x)", true},
		{".", true},
		{"if . ./x; then run; fi", true},
		{"while true; do . ./x; done", true},
		{"echo 'exec'", true}, // a word in an argument counts: a pid file, nothing worse
		{"x=\"exec\"; $x true", true},
		{"./executable", false},
		{"find . -name '*.go' -exec grep -l x {} +", false},
		{"ls . ..", false},
		{"X=1 . ./env.sh; run", true},
		{"git evaluate; resources", false},
		{"/usr/bin/exec-helper", false},
	} {
		if got := mayExec(tc.line); got != tc.want {
			t.Errorf("mayExec(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestWrapperLoginShells: with each shell as the remote account's login
// shell, the quoting round trips pass through the wrapper, exit statuses
// are kept, and a cancelled command is stopped.
func TestWrapperLoginShells(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	seed := testSeed(t)
	t.Logf("GOOPENSSH_QUOTE_SEED=%d", seed)
	for _, name := range []string{"dash", "bash", "zsh", "mksh", "ksh", "csh", "tcsh", "fish"} {
		t.Run(name, func(t *testing.T) {
			path, err := exec.LookPath(name)
			if err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("shell %s is required under CI", name)
				}
				t.Skipf("%s is not installed", name)
			}
			srv := sshtest.Start(t, sshtest.Config{Shell: path})
			forEachTransport(t, func(t *testing.T, tr Transport) {
				checkNoLeaks(t)
				opts := testOptionsT(t, srv, tr)
				opts.RemoteShell = name
				m, _ := newTestMaster(t, srv, opts)
				out, err := m.Capture(t.Context(), "echo $SHELL")
				if err != nil || !strings.Contains(string(out), name) {
					t.Fatalf("login shell: %q %v, want %s", out, err, name)
				}
				strs := randomStrings(rand.New(rand.NewPCG(seed, 7)), n)
				run := func(script string) ([]byte, error) {
					c := m.Command(t.Context(), script)
					var o, e bytes.Buffer
					c.Stdout, c.Stderr = &o, &e
					err := c.Run()
					if c.rr == nil {
						t.Errorf("%s: the command was not wrapped", name)
					}
					if err != nil || e.Len() > 0 {
						return o.Bytes(), fmt.Errorf("%s: %v: stderr %q", name, err, truncate(e.String(), 300))
					}
					return o.Bytes(), nil
				}
				if refused := roundTripWith(t, name, m.quoter, run, strs); refused > 0 {
					t.Errorf("%d strings refused", refused)
				}
				for _, code := range []int{0, 1, 44} {
					err := m.Command(t.Context(), fmt.Sprintf("echo x; exit %d", code)).Run()
					var ee *ExitError
					if got := 0; errors.As(err, &ee) {
						got = ee.Code
						if got != code {
							t.Errorf("exit %d gave %v", code, err)
						}
					} else if code != 0 || err != nil {
						t.Errorf("exit %d gave %v", code, err)
					}
				}
				s := uniqueSleep()
				ctx, cancel := context.WithCancel(t.Context())
				c := m.Command(ctx, s)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				waitRemoteUp(t, m, s)
				cancel()
				if err := c.Wait(); !errors.Is(err, context.Canceled) {
					t.Errorf("err %v, want context.Canceled", err)
				}
				waitRemoteGone(t, m, s)
				// A line that exec's loses the token: it is stopped
				// through its pid file.
				s = uniqueSleep()
				ctx, cancel = context.WithCancel(t.Context())
				c = m.Command(ctx, "exec "+s)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				waitRemoteUp(t, m, s)
				cancel()
				if err := c.Wait(); !errors.Is(err, context.Canceled) {
					t.Errorf("exec: err %v, want context.Canceled", err)
				}
				waitRemoteGone(t, m, s)
				// Close removes the pid files (the server runs on this
				// machine: its /tmp is ours).
				m.rctl.mu.Lock()
				prefix := m.rctl.prefix
				m.rctl.mu.Unlock()
				if left, _ := filepath.Glob(prefix + "*"); prefix == "" || len(left) == 0 {
					t.Fatalf("no pid files before Close (prefix %q)", prefix)
				}
				m.Close()
				if left, _ := filepath.Glob(prefix + "*"); len(left) > 0 {
					t.Errorf("Close left %v", left)
				}
			})
		})
	}
}

package openssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// randomData returns n random bytes with NULs in them.
func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		b[i] = 0
	}
	return b
}

func TestCmdStreams(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	data := randomData(t, 20<<20)
	sum := sha256.Sum256(data)
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx := t.Context()

		t.Run("ReaderWriter20MiB", func(t *testing.T) {
			c := m.Command(ctx, "cat")
			c.Stdin = bytes.NewReader(data)
			var out bytes.Buffer
			c.Stdout = &out
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(out.Bytes()) != sum || out.Len() != len(data) {
				t.Fatalf("got %d bytes, want the %d sent", out.Len(), len(data))
			}
		})
		t.Run("Files20MiB", func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			if err := os.WriteFile(in, data, 0o600); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Open(in)
			defer fi.Close()
			fo, _ := os.Create(filepath.Join(dir, "out"))
			defer fo.Close()
			c := m.Command(ctx, "cat")
			c.Stdin, c.Stdout = fi, fo
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "out"))
			if !bytes.Equal(got, data) {
				t.Fatalf("file round trip: got %d bytes", len(got))
			}
		})
		t.Run("Pipes", func(t *testing.T) {
			c := m.Command(ctx, "cat; echo done >&2")
			w, err := c.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			r, _ := c.StdoutPipe()
			er, _ := c.StderrPipe()
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			go func() {
				w.Write(data[:1<<20])
				w.Close()
			}()
			var errb []byte
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); errb, _ = io.ReadAll(er) }()
			out, _ := io.ReadAll(r)
			wg.Wait()
			if err := c.Wait(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data[:1<<20]) || string(errb) != "done\n" {
				t.Fatalf("pipes: %d bytes out, stderr %q", len(out), errb)
			}
		})
		t.Run("ExitCodes", func(t *testing.T) {
			for _, code := range []int{0, 1, 4, 5, 44} {
				err := m.Command(ctx, fmt.Sprintf("exit %d", code)).Run()
				if code == 0 {
					if err != nil {
						t.Errorf("exit 0: %v", err)
					}
					continue
				}
				var ee *ExitError
				if !errors.As(err, &ee) || ee.Code != code || !errors.Is(err, ErrCmdFailed) {
					t.Errorf("exit %d: %v", code, err)
					continue
				}
				if ee.Cmd != fmt.Sprintf("exit %d", code) || ee.Host != m.Host() || (ee.ProcessState == nil) != (tr == TransportMux) {
					t.Errorf("exit %d: ExitError fields %+v", code, ee)
				}
			}
		})
		t.Run("StderrSeparateAndMerged", func(t *testing.T) {
			c := m.Command(ctx, "echo out; echo err >&2")
			var o, e bytes.Buffer
			c.Stdout, c.Stderr = &o, &e
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			if o.String() != "out\n" || e.String() != "err\n" {
				t.Errorf("separate: %q %q", o.String(), e.String())
			}
			// Quoted: the remote 2>&1 keeps the order.
			got, err := m.Command(ctx, "sh", "-c", "echo out; echo err >&2; echo out2").CombinedOutput()
			if err != nil || string(got) != "out\nerr\nout2\n" {
				t.Errorf("merged: %q %v", got, err)
			}
			// A raw line: both streams arrive, in no set order.
			got, err = m.Command(ctx, "echo out; echo err >&2").CombinedOutput()
			if err != nil || len(got) != 8 || !bytes.Contains(got, []byte("out\n")) || !bytes.Contains(got, []byte("err\n")) {
				t.Errorf("merged raw: %q %v", got, err)
			}
		})
		t.Run("StderrTailInExitError", func(t *testing.T) {
			_, err := m.Command(ctx, "echo partial; echo oops >&2; exit 3").Output()
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(string(ee.Stderr), "oops") {
				t.Fatalf("got %v", err)
			}
			if !strings.Contains(err.Error(), "oops") {
				t.Errorf("message lacks the stderr tail: %v", err)
			}
		})
		t.Run("FilesWrittenDirEnv", func(t *testing.T) {
			dir := sharedDir(t)
			c := m.Command(ctx, "sh", "-c", `pwd; printf '%s|%s' "$A" "$B" > out.txt`)
			c.Dir = dir
			c.Env = []string{"A=it's a test", `B=$HOME "q" \x`}
			out, err := c.Output()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != dir+"\n" {
				t.Errorf("pwd = %q, want %q", out, dir)
			}
			got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			if err != nil || string(got) != `it's a test|$HOME "q" \x` {
				t.Errorf("file = %q, %v", got, err)
			}
			// A missing directory: the command does not run.
			c = m.Command(ctx, "touch", "never")
			c.Dir = filepath.Join(dir, "missing")
			var ee *ExitError
			if err := c.Run(); !errors.As(err, &ee) || ee.Code != 1 {
				t.Errorf("missing Dir: %v", err)
			}
		})
		t.Run("QuotingAndString", func(t *testing.T) {
			c := m.Command(ctx, "echo", "a b", "it's")
			c.Stdout = io.Discard
			if got, want := c.String(), `echo 'a b' 'it'\''s' </dev/null >/dev/null 2>/dev/null`; got != want && !strings.HasPrefix(got, "echo 'a b' ") {
				t.Errorf("String = %q", got)
			}
			c = m.Command(ctx, "echo", "a b")
			var b bytes.Buffer
			c.Stdout = &b
			c.StderrToStdout = true
			if s := c.String(); !strings.HasSuffix(s, "</dev/null 2>&1") {
				t.Errorf("String = %q, want stdin discard and 2>&1 fragments", s)
			}
			c = m.Command(ctx, "echo $((1+2))")
			if s := c.String(); s != "echo $((1+2))" {
				t.Errorf("one argument changed: %q", s)
			}
			out, err := m.Command(ctx, "echo $((1+2))").Output()
			if err != nil || string(out) != "3\n" {
				t.Errorf("raw line: %q %v", out, err)
			}
			c = m.Command(ctx, "echo $((1+2))")
			c.QuoteArgs = QuoteAlways
			c.Stderr = os.Stderr
			if out, err := c.Output(); err == nil {
				t.Errorf("QuoteAlways ran the quoted line as a command name: %q", out)
			}
			c = m.Command(ctx, "echo", "$((1+2))")
			c.QuoteArgs = QuoteNever
			if out, err := c.Output(); err != nil || string(out) != "3\n" {
				t.Errorf("QuoteNever: %q %v", out, err)
			}
		})
		t.Run("BadInput", func(t *testing.T) {
			cases := map[string]*Cmd{
				"nul":         m.Command(ctx, "echo", "a\x00b"),
				"remoteshell": {Args: []string{"echo hi"}, RemoteShell: "sh", m: m, ctx: ctx},
				"glob":        {Args: []string{"echo hi"}, GlobQuoting: true, m: m, ctx: ctx},
				"env":         {Args: []string{"true"}, Env: []string{"1A=b"}, m: m, ctx: ctx},
				"envnoeq":     {Args: []string{"true"}, Env: []string{"A"}, m: m, ctx: ctx},
				"subsys":      {Args: []string{"a", "b"}, Subsystem: true, m: m, ctx: ctx},
				"dirnoargs":   {Dir: "/", m: m, ctx: ctx},
				"idle":        {Args: []string{"true"}, IdleTimeout: -1, m: m, ctx: ctx},
				"quotemode":   {Args: []string{"true"}, QuoteArgs: 7, m: m, ctx: ctx},
				"nilmaster":   {Args: []string{"true"}, ctx: ctx},
			}
			for name, c := range cases {
				err := c.Run()
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: %v, want ErrInvalid", name, err)
				}
				if c.Process != nil {
					t.Errorf("%s: a process was started", name)
				}
			}
			if err := m.Command(ctx, "echo", "a\x00").Run(); !errors.Is(err, ErrEncoding) {
				t.Errorf("NUL: %v, want ErrEncoding", err)
			}
			c := m.Command(ctx, "true")
			if err := c.Run(); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); !errors.Is(err, ErrInvalid) {
				t.Errorf("second Start: %v", err)
			}
			if err := c.Wait(); !errors.Is(err, ErrInvalid) {
				t.Errorf("second Wait: %v", err)
			}
		})
		t.Run("Pty", func(t *testing.T) {
			c := m.Command(ctx, "tty && stty size")
			ptm, err := c.StartPty()
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(ptm) // EIO at the end
			ptm.Close()
			if err := c.Wait(); err != nil {
				t.Fatalf("tty failed: %v (%q)", err, out)
			}
			s := strings.ReplaceAll(string(out), "\r", "")
			if !strings.Contains(s, "/dev/pts/") || !strings.Contains(s, "24 80\n") {
				t.Errorf("pty output %q", s)
			}
			// Without a pty, tty fails.
			if ok, err := m.Test(ctx, "tty"); ok || err != nil {
				t.Errorf("tty without pty: %v %v", ok, err)
			}
		})
		t.Run("PtyInteractive", func(t *testing.T) {
			c := m.Command(ctx, "read x; echo got:$x")
			ptm, err := c.StartPty()
			if err != nil {
				t.Fatal(err)
			}
			ptm.Write([]byte("hello\r"))
			out, _ := io.ReadAll(ptm)
			ptm.Close()
			if err := c.Wait(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "got:hello") {
				t.Errorf("pty output %q", out)
			}
		})
		t.Run("Socket", func(t *testing.T) {
			c := m.Command(ctx, "cat")
			conn, err := c.StartSocket()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				conn.Write(data[:4<<20])
				conn.(interface{ CloseWrite() error }).CloseWrite()
			}()
			out, err := io.ReadAll(conn)
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Wait(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data[:4<<20]) {
				t.Errorf("socket echo: %d bytes", len(out))
			}
		})
		t.Run("PipedTo", func(t *testing.T) {
			local := exec.Command("sh", "-c", `echo ping; read r; echo "$r" >&2`)
			var le bytes.Buffer
			local.Stderr = &le
			c := m.Command(ctx, `read l; echo "pong:$l"`)
			if err := c.StartPipedTo(local); err != nil {
				t.Fatal(err)
			}
			if err := c.Wait(); err != nil {
				t.Fatal(err)
			}
			if le.String() != "pong:ping\n" {
				t.Errorf("local got %q", le.String())
			}
		})
	})
}

func TestCmdDefaults(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		opts := testOptionsT(t, srv, tr)
		var defOut, defErr lockedBuffer
		opts.DefaultStdout = &defOut
		opts.DefaultStderr = &defErr
		opts.DefaultStdin = strings.NewReader("from default stdin\n")
		// The effect of DefaultSSHOpts is seen in ssh's debug log, which -E
		// sends to a file.
		logf := filepath.Join(t.TempDir(), "ssh.log")
		opts.DefaultSSHOpts = []string{"-v", "-E", logf}
		m, _ := newTestMaster(t, srv, opts)
		ctx := t.Context()
		logSize := func() int64 {
			st, err := os.Stat(logf)
			if err != nil {
				return 0
			}
			return st.Size()
		}

		if err := m.System(ctx, `cat; echo e >&2`); err != nil {
			t.Fatal(err)
		}
		if got := string(defOut.Bytes()); got != "from default stdin\n" {
			t.Errorf("default stdout got %q", got)
		}
		if got := string(defErr.Bytes()); got != "e\n" {
			t.Errorf("default stderr got %q", got)
		}
		size := logSize()
		if size == 0 {
			t.Errorf("DefaultSSHOpts not applied: no ssh log")
		}
		// Per-call SSHOpts replace the defaults.
		c := m.Command(ctx, "echo x")
		c.SSHOpts = []string{}
		c.Stdin = strings.NewReader("")
		if out, err := c.Output(); err != nil || string(out) != "x\n" {
			t.Errorf("SSHOpts: %q %v", out, err)
		}
		if logSize() != size {
			t.Errorf("SSHOpts did not replace DefaultSSHOpts")
		}
		// PipeOut takes no defaults, as in Perl: stdin is /dev/null.
		r, err := m.PipeOut(ctx, "cat; echo y")
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(r)
		if err := r.Close(); err != nil || string(out) != "y\n" {
			t.Errorf("PipeOut defaults: %q %v", out, err)
		}
		if logSize() != size {
			t.Errorf("PipeOut used DefaultSSHOpts")
		}
		// Test ignores the default stdout and stderr.
		n := len(defOut.Bytes())
		if ok, err := m.Test(ctx, "echo x; echo y >&2"); !ok || err != nil || len(defOut.Bytes()) != n {
			t.Errorf("Test: %v %v, default stdout grew", ok, err)
		}
		// io.Discard discards despite a default.
		c = m.Command(ctx, "echo discarded")
		c.Stdout = io.Discard
		c.Stdin = strings.NewReader("")
		if err := c.Run(); err != nil || len(defOut.Bytes()) != n {
			t.Errorf("io.Discard: %v", err)
		}
	})
}

func TestCmdTimeouts(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx := t.Context()

		t.Run("IdleKill", func(t *testing.T) {
			c := m.Command(ctx, "sleep 10")
			c.IdleTimeout = time.Second
			c.KillOnTimeout = true
			t0 := time.Now()
			err := c.Run()
			if d := time.Since(t0); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("err %v, want ErrTimeout", err)
			}
		})
		t.Run("IdleKeepRemote", func(t *testing.T) {
			// With KeepRemote, the timeout still bounds the call: our
			// ends are closed and the local side ends.
			c := m.Command(ctx, "sleep 10")
			c.IdleTimeout = 500 * time.Millisecond
			c.KeepRemote = true
			var out bytes.Buffer
			c.Stdout = &out
			t0 := time.Now()
			err := c.Run()
			d := time.Since(t0)
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("err %v, want ErrTimeout", err)
			}
			if d > 2500*time.Millisecond {
				t.Errorf("returned after %v, want within IdleTimeout and a short grace", d)
			}
		})
		t.Run("Deadline", func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			t0 := time.Now()
			err := m.Command(cctx, "sleep 10").Run()
			if d := time.Since(t0); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTimeout) {
				t.Errorf("err %v", err)
			}
		})
		t.Run("Cancel", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(time.Second, cancel)
			t0 := time.Now()
			_, err := m.Command(cctx, "sleep 10").Output()
			if d := time.Since(t0); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
				t.Errorf("err %v", err)
			}
		})
		t.Run("BusyNotIdle", func(t *testing.T) {
			c := m.Command(ctx, "for i in 1 2 3 4 5; do echo $i; sleep 0.3; done")
			c.IdleTimeout = time.Second
			c.KillOnTimeout = true
			out, err := c.Output()
			if err != nil || string(out) != "1\n2\n3\n4\n5\n" {
				t.Errorf("%q %v", out, err)
			}
		})
		t.Run("RemoteAfterCancel", func(t *testing.T) {
			// With KeepRemote, killing the ssh of a tty session still hangs
			// up the remote process; without a tty the remote process goes
			// on.
			dir := sharedDir(t)
			ptyMark, plainMark := filepath.Join(dir, "pty"), filepath.Join(dir, "plain")
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			c := m.Command(cctx, "sleep 2; touch "+ptyMark)
			c.KeepRemote = true
			ptm, err := c.StartPty()
			if err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, ptm)
			c2 := m.Command(cctx, "sleep 2; touch "+plainMark)
			c2.KeepRemote = true
			if err := c2.Start(); err != nil {
				t.Fatal(err)
			}
			err = c.Wait()
			ptm.Close()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("pty: err %v", err)
			}
			if err := c2.Wait(); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("plain: err %v", err)
			}
			time.Sleep(2500 * time.Millisecond)
			if _, err := os.Stat(ptyMark); err == nil {
				t.Errorf("the remote command went on after its tty session was killed")
			}
			if _, err := os.Stat(plainMark); err != nil {
				t.Errorf("the remote command without a tty was stopped: %v", err)
			}
		})
	})
}

func TestCmdMasterGone(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		c := m.Command(t.Context(), "sleep 5")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		syscall.Kill(m.MasterPID(), syscall.SIGKILL)
		err := c.Wait()
		if !errors.Is(err, ErrMasterGone) || !errors.Is(err, ErrSlaveFailed) {
			t.Fatalf("err %v, want ErrMasterGone and ErrSlaveFailed", err)
		}
		if err := m.System(t.Context(), "true"); !errors.Is(err, ErrMasterFailed) {
			t.Errorf("next command: %v", err)
		}
	})
}

func TestCmdConcurrentSessions(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{MaxSessions: 10})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		logins := strings.Count(srv.Log(), "Accepted publickey")
		var wg sync.WaitGroup
		errs := make([]error, 30)
		outs := make([][]byte, 30)
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = m.Capture(t.Context(), fmt.Sprintf("sleep 0.3; echo %d", i))
			}()
		}
		wg.Wait()
		for i := range 30 {
			if errs[i] != nil || string(outs[i]) != fmt.Sprintf("%d\n", i) {
				t.Errorf("command %d: %q %v", i, outs[i], errs[i])
			}
		}
		if n := strings.Count(srv.Log(), "Accepted publickey") - logins; n != 0 {
			t.Errorf("sshd logged %d more logins, want none", n)
		}
	})
}

func TestCmdManySequential(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		n := 1000
		if os.Getenv("OPENSSH_LONG") != "" {
			n = 10000
		}
		m, _ := newTestMasterT(t, srv, nil, tr)
		ctx := t.Context()
		run := func(k int) {
			for range k {
				if err := m.System(ctx, "true"); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(20) // warm up
		fds, gs := sshtest.OpenFDs(), runtime.NumGoroutine()
		t0 := time.Now()
		run(n)
		d := time.Since(t0)
		time.Sleep(100 * time.Millisecond)
		if f := sshtest.OpenFDs(); f > fds {
			t.Errorf("fds grew from %d to %d", fds, f)
		}
		if g := runtime.NumGoroutine(); g > gs {
			t.Errorf("goroutines grew from %d to %d", gs, g)
		}
		// (The needle "ssh " would also match sshd's "sshd: goopenssh" processes.)
		if p := sshtest.CountProcesses("ssh -F ") - 1; p != 0 { // the master
			t.Errorf("%d ssh children left", p)
		}
		t.Logf("%d sequential commands in %v (%v each)", n, d, d/time.Duration(n))
	})
}

package openssh

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

func TestHelpers(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	data := randomData(t, 20<<20)
	sum := sha256.Sum256(data)
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx := t.Context()

		t.Run("System", func(t *testing.T) {
			dir := sharedDir(t)
			if err := m.System(ctx, "echo written > "+dir+"/sys"); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dir + "/sys"); string(b) != "written\n" {
				t.Errorf("file %q", b)
			}
			var ee *ExitError
			if err := m.System(ctx, "exit 44"); !errors.As(err, &ee) || ee.Code != 44 {
				t.Errorf("exit 44: %v", err)
			}
		})
		t.Run("Test", func(t *testing.T) {
			for line, want := range map[string]bool{"true": true, "false": false, "exit 5": false, "test -d /": true} {
				ok, err := m.Test(ctx, line)
				if ok != want || err != nil {
					t.Errorf("Test(%q) = %v, %v", line, ok, err)
				}
			}
			c := m.Command(ctx, "true")
			c.Dir = "/nonexistent"
			if ok, err := c.Test(); ok || err != nil {
				t.Errorf("Test with a missing Dir = %v, %v", ok, err)
			}
		})
		t.Run("Capture", func(t *testing.T) {
			c := m.Command(ctx, "cat")
			c.Stdin = bytes.NewReader(data)
			out, err := c.Capture()
			if err != nil || sha256.Sum256(out) != sum {
				t.Fatalf("20 MiB through Capture: %d bytes, %v", len(out), err)
			}
			out, err = m.Capture(ctx, "printf 'a\\0b'; exit 4")
			var ee *ExitError
			if string(out) != "a\x00b" || !errors.As(err, &ee) || ee.Code != 4 {
				t.Errorf("partial output with error: %q %v", out, err)
			}
		})
		t.Run("Capture2", func(t *testing.T) {
			o, e, err := m.Capture2(ctx, "echo out; echo err >&2; exit 1")
			var ee *ExitError
			if string(o) != "out\n" || string(e) != "err\n" || !errors.As(err, &ee) || ee.Code != 1 || string(ee.Stderr) != "err\n" {
				t.Errorf("Capture2: %q %q %v", o, e, err)
			}
			c := m.Command(ctx, "cat >&2")
			c.Stdin = bytes.NewReader(data)
			o, e, err = c.Capture2()
			if err != nil || len(o) != 0 || sha256.Sum256(e) != sum {
				t.Errorf("20 MiB on stderr: %d %d %v", len(o), len(e), err)
			}
		})
		t.Run("PipeIn", func(t *testing.T) {
			dir := sharedDir(t)
			w, err := m.PipeIn(ctx, "cat > "+dir+"/in.bin")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dir + "/in.bin")
			if sha256.Sum256(got) != sum {
				t.Errorf("file has %d bytes", len(got))
			}
			w, err = m.PipeIn(ctx, "cat >/dev/null; exit 5")
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("x"))
			var ee *ExitError
			if err := w.Close(); !errors.As(err, &ee) || ee.Code != 5 {
				t.Errorf("PipeIn Close: %v", err)
			}
		})
		t.Run("PipeOut", func(t *testing.T) {
			dir := sharedDir(t)
			if err := os.WriteFile(dir+"/out.bin", data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := m.PipeOut(ctx, "cat", dir+"/out.bin")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || sha256.Sum256(got) != sum {
				t.Errorf("PipeOut: %d bytes %v", len(got), err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			r, _ = m.PipeOut(ctx, "echo x; exit 4")
			io.ReadAll(r)
			var ee *ExitError
			if err := r.Close(); !errors.As(err, &ee) || ee.Code != 4 {
				t.Errorf("PipeOut Close: %v", err)
			}
		})
		t.Run("Open2Open3", func(t *testing.T) {
			in, out, c, err := m.Open2(ctx, "tr", "a-z", "A-Z")
			if err != nil {
				t.Fatal(err)
			}
			go func() { in.Write([]byte("hello\n")); in.Close() }()
			got, _ := io.ReadAll(out)
			if err := c.Wait(); err != nil || string(got) != "HELLO\n" {
				t.Errorf("Open2: %q %v", got, err)
			}
			in, out, errr, c, err := m.Open3(ctx, "cat; echo bye >&2; exit 4")
			if err != nil {
				t.Fatal(err)
			}
			go func() { in.Write(data[:1<<20]); in.Close() }()
			var eb []byte
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); eb, _ = io.ReadAll(errr) }()
			got, _ = io.ReadAll(out)
			wg.Wait()
			var ee *ExitError
			if err := c.Wait(); !errors.As(err, &ee) || ee.Code != 4 || !bytes.Equal(got, data[:1<<20]) || string(eb) != "bye\n" {
				t.Errorf("Open3: %d bytes, %q, %v", len(got), eb, err)
			}
		})
		t.Run("Open2Pty", func(t *testing.T) {
			ptm, c, err := m.Open2Pty(ctx, "stty -echo; read x; echo got:$x; exit 5")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			ptm.Write([]byte("abc\r"))
			out, _ := io.ReadAll(ptm)
			ptm.Close()
			var ee *ExitError
			if err := c.Wait(); !errors.As(err, &ee) || ee.Code != 5 {
				t.Errorf("Open2Pty exit: %v", err)
			}
			if !strings.Contains(string(out), "got:abc\r\n") {
				t.Errorf("Open2Pty output %q", out)
			}
		})
		t.Run("Open3Pty", func(t *testing.T) {
			ptm, errr, c, err := m.Open3Pty(ctx, "tty")
			if err != nil {
				t.Fatal(err)
			}
			var eb []byte
			done := make(chan struct{})
			go func() { eb, _ = io.ReadAll(errr); close(done) }()
			out, _ := io.ReadAll(ptm)
			<-done
			ptm.Close()
			if err := c.Wait(); err != nil || !strings.Contains(string(out), "/dev/pts/") || len(eb) != 0 {
				t.Errorf("Open3Pty: %q %q %v", out, eb, err)
			}
		})
		t.Run("Open2Socket", func(t *testing.T) {
			conn, c, err := m.Open2Socket(ctx, "cat")
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			for _, l := range []string{"one\n", "two\x00\n"} {
				conn.Write([]byte(l))
				got, err := br.ReadString('\n')
				if err != nil || got != l {
					t.Errorf("echo %q: %q %v", l, got, err)
				}
			}
			conn.Close()
			if err := c.Wait(); err != nil {
				t.Errorf("Wait: %v", err)
			}
		})
		t.Run("Spawn", func(t *testing.T) {
			var out bytes.Buffer
			c := m.Command(ctx, "sleep 0.2; echo spawned")
			c.Stdout = &out
			if err := c.Spawn(); err != nil {
				t.Fatal(err)
			}
			if (c.Process == nil) != (tr == TransportMux) || c.ProcessState != nil {
				t.Errorf("Process %v ProcessState %v", c.Process, c.ProcessState)
			}
			if err := c.Wait(); err != nil || out.String() != "spawned\n" {
				t.Errorf("Spawn: %q %v", out.String(), err)
			}
			if tr == TransportMux {
				if c.Process != nil || c.ProcessState != nil {
					t.Errorf("mux: Process %v ProcessState %v after Wait, want nil", c.Process, c.ProcessState)
				}
			} else if c.ProcessState == nil || !c.ProcessState.Success() {
				t.Errorf("ProcessState after Wait: %v", c.ProcessState)
			}
			c2, err := m.Spawn(ctx, "exit 1")
			if err != nil {
				t.Fatal(err)
			}
			if err := c2.Wait(); !errors.Is(err, ErrCmdFailed) {
				t.Errorf("Spawn exit 1: %v", err)
			}
		})
		t.Run("MakeRemoteCommand", func(t *testing.T) {
			argv, err := m.MakeRemoteCommand(ctx, "echo", "hello world")
			if err != nil {
				t.Fatal(err)
			}
			if argv[len(argv)-1] != "echo 'hello world'" || argv[len(argv)-2] != m.Host() {
				t.Errorf("argv %q", argv)
			}
			out, err := exec.Command(argv[0], argv[1:]...).Output()
			if err != nil || string(out) != "hello world\n" {
				t.Errorf("run: %q %v", out, err)
			}
			line, err := ShellQuote(argv...)
			if err != nil {
				t.Fatal(err)
			}
			out, err = exec.Command("sh", "-c", line).Output()
			if err != nil || string(out) != "hello world\n" {
				t.Errorf("run through a local shell: %q %v", out, err)
			}
		})
	})
}

// TestRun1t rewrites the live checks of Net::OpenSSH's t/1_run.t for this
// API (the remote host is this machine, as there).
func TestRun1t(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx := t.Context()
		dir := sharedDir(t)
		for _, n := range []string{"a", "b c", "d'e"} {
			os.WriteFile(filepath.Join(dir, n), nil, 0o644)
		}

		// 3: capture of ls, stderr merged, equals the local listing.
		c := m.Command(ctx, "ls "+dir)
		c.StderrToStdout = true
		out, err := c.Capture()
		if err != nil {
			t.Fatal(err)
		}
		remote := strings.Fields(string(out))
		ents, _ := os.ReadDir(dir)
		var local []string
		for _, e := range ents {
			local = append(local, strings.Fields(e.Name())...)
		}
		slices.Sort(remote)
		slices.Sort(local)
		if !slices.Equal(remote, local) {
			t.Errorf("ls: remote %q, local %q", remote, local)
		}

		// 4-10: pipe_in to a file, the ssh process is reaped on close.
		lines := ""
		for i := range 10 {
			lines += "this is line " + itoa(i) + "\n"
		}
		file := filepath.Join(dir, "test.dat")
		pc := m.Command(ctx, "cat > "+file)
		w, err := pc.PipeIn()
		if err != nil {
			t.Fatal(err)
		}
		// Process transport: the pipe is one ssh process, reaped on Close.
		// Mux: no process at all (the master is the only ssh).
		pid := 0
		if tr == TransportMux {
			if pc.Process != nil {
				t.Errorf("mux: pipe_in has a Process %d", pc.Process.Pid)
			}
			if n := sshtest.CountSSH(); n != 1 {
				t.Errorf("mux: %d ssh processes while pipe_in is open, want only the master", n)
			}
		} else {
			pid = pc.Process.Pid
			// Start returns once exec has closed the close-on-exec fds,
			// which on Linux is before the new image's argv is set up:
			// under load cmdline can still read empty for a moment.
			var cl []byte
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				cl, _ = os.ReadFile("/proc/" + itoa(pid) + "/cmdline")
				if len(cl) > 0 || time.Now().After(deadline) {
					break
				}
			}
			if !bytes.HasPrefix(cl, []byte("ssh\x00")) {
				t.Errorf("pipe_in pid %d runs %q", pid, cl)
			}
		}
		io.WriteString(w, lines)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if pid != 0 && syscall.Kill(pid, 0) == nil {
			t.Errorf("pipe_in ssh process %d not reaped on Close", pid)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != lines {
			t.Errorf("file: %q %v", b, err)
		}

		// 11-12: capture2 with empty errput.
		o, e, err := m.Capture2(ctx, "cat "+file)
		if err != nil || len(e) != 0 || string(o) != lines {
			t.Errorf("capture2: %q %q %v", o, e, err)
		}

		// 13-15: a second Master on the same socket (external), then the
		// first is still alive after the second is closed.
		opts := testOptionsT(t, srv, tr)
		opts.ExternalMaster = true
		opts.CtlPath = m.CtlPath()
		ext, _ := newTestMasterT(t, srv, opts, tr)
		o, e, err = ext.Capture2(ctx, "cat "+file)
		if err != nil || len(e) != 0 || string(o) != lines {
			t.Errorf("external capture2: %q %q %v", o, e, err)
		}
		ext.Close()
		if err := m.Check(ctx); err != nil {
			t.Errorf("check after closing the external Master: %v", err)
		}

		// 16-18: system with stdout to a file and stderr discarded.
		f2 := filepath.Join(t.TempDir(), "test2.dat")
		fo, _ := os.Create(f2)
		c = m.Command(ctx, "cat "+file+"; echo noise >&2")
		c.Stdout = fo
		err = c.System()
		fo.Close()
		if b, _ := os.ReadFile(f2); err != nil || string(b) != lines {
			t.Errorf("system to a file: %q %v", b, err)
		}

		// 19: cd && cat, here with Dir.
		c = m.Command(ctx, "cat", "test.dat")
		c.Dir = dir
		if out, err := c.Capture(); err != nil || string(out) != lines {
			t.Errorf("Dir: %q %v", out, err)
		}

		// 20: stdin data round trip.
		c = m.Command(ctx, "cat")
		c.Stdin = strings.NewReader(lines)
		if out, err := c.Capture(); err != nil || string(out) != lines {
			t.Errorf("stdin data: %q %v", out, err)
		}

		// 21: cat >&2 with stderr merged.
		c = m.Command(ctx, "cat >&2")
		c.Stdin = strings.NewReader(lines)
		c.StderrToStdout = true
		if out, err := c.Capture(); err != nil || string(out) != lines {
			t.Errorf("cat >&2 merged: %q %v", out, err)
		}

		// 22-23: capture2 of cat 1>&2.
		o, e, err = m.Capture2(ctx, "cat "+file+" 1>&2")
		if err != nil || len(o) != 0 || string(e) != lines {
			t.Errorf("capture2 1>&2: %q %q %v", o, e, err)
		}

		// 24-26: pipe_out.
		r, err := m.PipeOut(ctx, "cat "+file)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(r); string(b) != lines {
			t.Errorf("pipe_out: %q", b)
		}
		if err := r.Close(); err != nil {
			t.Errorf("pipe_out close: %v", err)
		}

		// 27-28: quote_args round trip through echo.
		weird := `#@$#$%&(@#_)erkljgfd'' 345345' { { / // ///foo bar////doz '''' heloo`
		for _, s := range []string{weird, weird + "\nline1\nline2"} {
			out, err := m.Capture(ctx, "echo", s)
			if err != nil || string(out) != s+"\n" {
				t.Errorf("quote_args: %q %v", out, err)
			}
		}

		// 45: make_remote_command run by a local process.
		argv, err := m.MakeRemoteCommand(ctx, "echo", "hello")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(argv[0], argv[1:]...).Output(); err != nil || string(out) != "hello\n" {
			t.Errorf("make_remote_command: %q %v", out, err)
		}
		// 46: no leaked fds: checkNoLeaks.
	})
}

package openssh

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

func TestNewCheckClose(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		if err := m.Check(t.Context()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		pid := m.MasterPID()
		if pid == 0 {
			t.Fatal("MasterPID is 0")
		}
		st, err := os.Lstat(m.CtlPath())
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm()&0o677 != 0o600 {
			t.Errorf("socket mode %v, want a socket with 0600 permissions", st.Mode())
		}
		dst, err := os.Stat(filepath.Dir(m.CtlPath()))
		if err != nil {
			t.Fatal(err)
		}
		if dst.Mode().Perm() != 0o700 {
			t.Errorf("control dir mode %v, want 0700", dst.Mode().Perm())
		}
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := os.Lstat(m.CtlPath()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket still there after Close: %v", err)
		}
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("master pid %d still exists after Close", pid)
		}
		if err := m.Check(t.Context()); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrMasterFailed) {
			t.Errorf("Check after Close: %v, want ErrClosed and ErrMasterFailed", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestMasterArgvShape(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	opts := testOptions(t, srv)
	opts.MasterOpts = []string{"-o", "ServerAliveInterval=7"}
	m, _ := newTestMaster(t, srv, opts)
	cl, err := os.ReadFile("/proc/" + itoa(m.MasterPID()) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	joined := strings.Join(argv, " ")
	if !strings.HasPrefix(joined, "ssh -F "+srv.SSHConfig+" -o ServerAliveInterval=7 -o ControlPersist=no") {
		t.Errorf("MasterOpts are not first: %q", joined)
	}
	if !strings.HasSuffix(joined, "-S "+m.CtlPath()+" -- "+srv.Addr) {
		t.Errorf("argv does not end with -S ctl -- host: %q", joined)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// connectErr runs New with opts and returns its error, checking that it came
// within the timeout and that nothing was left behind.
func connectErr(t *testing.T, target string, opts *Options) error {
	t.Helper()
	start := time.Now()
	m, err := New(t.Context(), target, opts)
	if err == nil {
		m.Close()
		t.Fatal("New succeeded, want an error")
	}
	if d := time.Since(start); d > opts.Timeout+3*time.Second {
		t.Errorf("New took %v with Timeout %v", d, opts.Timeout)
	}
	if !errors.Is(err, ErrMasterFailed) {
		t.Errorf("error %v does not match ErrMasterFailed", err)
	}
	if !strings.HasPrefix(err.Error(), "openssh: ") {
		t.Errorf("message %q lacks the openssh: prefix", err)
	}
	entries, _ := os.ReadDir(opts.CtlDir)
	if len(entries) != 0 {
		t.Errorf("control dir not empty after failure: %v", entries)
	}
	return err
}

func TestConnectErrors(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	t.Run("UnknownHostKey", func(t *testing.T) {
		checkNoLeaks(t)
		opts := testOptions(t, srv)
		opts.MasterOpts = []string{"-o", "UserKnownHostsFile=/dev/null"}
		err := connectErr(t, srv.Addr, opts)
		if !errors.Is(err, ErrHostKeyUnknown) {
			t.Errorf("got %v, want ErrHostKeyUnknown", err)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		checkNoLeaks(t)
		opts := testOptions(t, srv)
		opts.ConfigFile = srv.SSHConfigNoKey
		other := filepath.Join(t.TempDir(), "other")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		opts.KeyPath = other
		err := connectErr(t, srv.Addr, opts)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("got %v, want ErrAuth", err)
		}
	})
	t.Run("RefusedPort", func(t *testing.T) {
		checkNoLeaks(t)
		opts := testOptions(t, srv)
		opts.MasterOpts = []string{"-o", "Port=1"}
		err := connectErr(t, "127.0.0.1", opts)
		if !errors.Is(err, ErrConnRefused) {
			t.Errorf("got %v, want ErrConnRefused", err)
		}
	})
	t.Run("BadHostName", func(t *testing.T) {
		checkNoLeaks(t)
		opts := testOptions(t, srv)
		err := connectErr(t, "no-such-host.invalid", opts)
		if !errors.Is(err, ErrResolve) {
			t.Errorf("got %v, want ErrResolve", err)
		}
	})
	t.Run("ChangedHostKey", func(t *testing.T) {
		checkNoLeaks(t)
		srv2 := sshtest.Start(t, sshtest.Config{})
		srv2.RotateHostKey()
		err := connectErr(t, srv2.Addr, testOptions(t, srv2))
		if !errors.Is(err, ErrHostKeyChanged) {
			t.Errorf("got %v, want ErrHostKeyChanged", err)
		}
	})
	t.Run("LoginTimeout", func(t *testing.T) {
		checkNoLeaks(t)
		// A server that accepts TCP and never speaks.
		opts := testOptions(t, srv)
		opts.Timeout = time.Second
		opts.MasterOpts = []string{"-o", "ProxyCommand=sleep 30"}
		err := connectErr(t, srv.Addr, opts)
		if !errors.Is(err, ErrLoginTimeout) {
			t.Errorf("got %v, want ErrLoginTimeout", err)
		}
	})
	t.Run("ContextCancel", func(t *testing.T) {
		checkNoLeaks(t)
		opts := testOptions(t, srv)
		opts.MasterOpts = []string{"-o", "ProxyCommand=sleep 30"}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := New(ctx, srv.Addr, opts)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrMasterFailed) {
			t.Errorf("got %v, want DeadlineExceeded and ErrMasterFailed", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestExternalMaster(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ext, err := New(t.Context(), "", &Options{ExternalMaster: true, CtlPath: m.CtlPath(), ConfigFile: srv.SSHConfig, Transport: tr})
		if err != nil {
			t.Fatalf("New external: %v", err)
		}
		if ext.MasterPID() != 0 {
			t.Errorf("external MasterPID = %d, want 0", ext.MasterPID())
		}
		if err := ext.Check(t.Context()); err != nil {
			t.Fatalf("external Check: %v", err)
		}
		if _, err := ext.Disown(); !errors.Is(err, ErrNotOwner) {
			t.Errorf("Disown of external: %v, want ErrNotOwner", err)
		}
		if err := ext.Restart(t.Context()); !errors.Is(err, ErrNotOwner) {
			t.Errorf("Restart of external: %v, want ErrNotOwner", err)
		}
		if err := ext.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Check(t.Context()); err != nil {
			t.Fatalf("owner's master is down after the external Close: %v", err)
		}
		if _, err := New(t.Context(), "", &Options{ExternalMaster: true, Transport: tr}); !errors.Is(err, ErrInvalid) {
			t.Errorf("ExternalMaster without CtlPath: %v, want ErrInvalid", err)
		}
	})
}

func TestAsyncAndStop(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		opts := testOptionsT(t, srv, tr)
		opts.Async = true
		start := time.Now()
		m, err := New(t.Context(), srv.Addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("async New took %v", d)
		}
		if err := m.WaitForMaster(t.Context()); err != nil {
			t.Fatalf("WaitForMaster: %v", err)
		}
		if err := m.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		pid := m.MasterPID()
		if err := m.Stop(t.Context()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if _, err := os.Lstat(m.CtlPath()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket still there after Stop")
		}
		if err := m.Check(t.Context()); !errors.Is(err, ErrMasterStopped) {
			t.Errorf("Check after Stop: %v, want ErrMasterStopped", err)
		}
		m.Close()
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("master %d survived Close after Stop", pid)
		}
	})
}

func TestAsyncFailure(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	opts := testOptions(t, srv)
	opts.Async = true
	opts.Timeout = time.Second
	opts.MasterOpts = []string{"-o", "ProxyCommand=sleep 30"}
	m, err := New(t.Context(), srv.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Options.Timeout bounds an async login too.
	start := time.Now()
	err = m.WaitForMaster(t.Context())
	if !errors.Is(err, ErrLoginTimeout) {
		t.Errorf("WaitForMaster: %v, want ErrLoginTimeout", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRestartAfterSSHDRestart(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		srv.Kill() // drops the connection
		srv.Restart()
		// The master notices the dropped connection and exits.
		deadline := time.Now().Add(10 * time.Second)
		for m.Check(t.Context()) == nil {
			if time.Now().After(deadline) {
				t.Fatal("master still answers after its connection was killed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := m.Check(t.Context()); !errors.Is(err, ErrMasterFailed) {
			t.Fatalf("Check: %v", err)
		}
		if err := m.Restart(t.Context()); err != nil {
			t.Fatalf("Restart: %v", err)
		}
		if err := m.Check(t.Context()); err != nil {
			t.Fatalf("Check after Restart: %v", err)
		}
	})
}

func TestKilledMasterIsSticky(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		if err := syscall.Kill(m.MasterPID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var err error
		for time.Since(start) < 3*time.Second {
			if err = m.WaitForMaster(t.Context()); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !errors.Is(err, ErrMasterFailed) || !errors.Is(err, ErrMasterGone) {
			t.Fatalf("after kill: %v, want ErrMasterFailed/ErrMasterGone", err)
		}
		// Sticky: every later call fails the same way, at once.
		start = time.Now()
		if err2 := m.Check(t.Context()); !errors.Is(err2, ErrMasterGone) {
			t.Errorf("second call: %v", err2)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("a failed master took %v to fail", d)
		}
	})
}

func TestDisown(t *testing.T) {
	checkNoLeaks(t)
	m, srv := newTestMaster(t, nil, nil)
	pid, err := m.Disown()
	if err != nil || pid != m.MasterPID() {
		t.Fatalf("Disown = %d, %v", pid, err)
	}
	m.Close()
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("a disowned master was killed by Close")
	}
	ext, err := New(t.Context(), "", &Options{ExternalMaster: true, CtlPath: m.CtlPath(), ConfigFile: srv.SSHConfig})
	if err != nil {
		t.Fatalf("reuse disowned master: %v", err)
	}
	ext.Close()
	// Clean up by hand, as the new owner would.
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(m.CtlPath())
}

// TestCrashLeavesNoMaster runs a child test binary that starts a master and
// is then SIGKILLed: the master must go down with it, through Pdeathsig
// (Linux's default) and through the watchdog (NoPdeathsig, and every system
// without Pdeathsig). A disowned master with NoPdeathsig must outlive it.
func TestCrashLeavesNoMaster(t *testing.T) {
	if os.Getenv("OPENSSH_CRASH_CHILD") != "" {
		m, err := New(context.Background(), os.Getenv("OPENSSH_CRASH_TARGET"), &Options{
			ConfigFile: os.Getenv("OPENSSH_CRASH_CONFIG"), CtlDir: os.Getenv("OPENSSH_CRASH_CTLDIR"), BatchMode: true,
			NoPdeathsig: os.Getenv("OPENSSH_CRASH_NOPDEATHSIG") != "",
		})
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		if os.Getenv("OPENSSH_CRASH_DISOWN") != "" {
			if _, err := m.Disown(); err != nil {
				os.Stdout.WriteString("error " + err.Error() + "\n")
				os.Exit(1)
			}
		}
		os.Stdout.WriteString("pid " + itoa(m.MasterPID()) + "\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	srv := sshtest.Start(t, sshtest.Config{})
	cases := []struct {
		name                string
		noPdeathsig, disown bool
	}{
		{"watchdog", true, false},
		{"disowned", true, true},
	}
	if hasPdeathsig {
		cases = append(cases, struct {
			name                string
			noPdeathsig, disown bool
		}{"pdeathsig", false, false})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesNoMaster$", "-test.v=false")
			cmd.Env = append(os.Environ(), "OPENSSH_CRASH_CHILD=1", "OPENSSH_CRASH_TARGET="+srv.Addr,
				"OPENSSH_CRASH_CONFIG="+srv.SSHConfig, "OPENSSH_CRASH_CTLDIR="+testCtlDir(t))
			if tc.noPdeathsig {
				cmd.Env = append(cmd.Env, "OPENSSH_CRASH_NOPDEATHSIG=1")
			}
			if tc.disown {
				cmd.Env = append(cmd.Env, "OPENSSH_CRASH_DISOWN=1")
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			line = strings.TrimSpace(line)
			pid, err := strconv.Atoi(strings.TrimPrefix(line, "pid "))
			if !strings.HasPrefix(line, "pid ") || err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child said %q", line)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if tc.disown {
				// The watchdog was dismissed: the master stays, usable.
				time.Sleep(500 * time.Millisecond)
				if syscall.Kill(pid, 0) != nil {
					t.Fatalf("disowned master %d died with its program", pid)
				}
				syscall.Kill(-pid, syscall.SIGTERM)
			}
			deadline := time.Now().Add(5 * time.Second)
			for syscall.Kill(pid, 0) == nil {
				if time.Now().After(deadline) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("master %d outlived its SIGKILLed program", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// The watchdog (not ours any more: its parent was killed) exits
			// once it has ended the master.
			mark := "goopenssh-watchdog " + itoa(pid)
			deadline = time.Now().Add(6 * time.Second)
			for len(sshtest.FindProcesses(mark)) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the watchdog of master %d is still running", pid)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		errs := make(chan error, 20)
		for range 20 {
			go func() {
				errs <- m.Check(t.Context())
			}()
		}
		for range 20 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		// Close racing with operations: they fail cleanly, never hang.
		for range 10 {
			go func() { errs <- m.Check(t.Context()) }()
		}
		m.Close()
		for range 10 {
			if err := <-errs; err != nil && !errors.Is(err, ErrMasterFailed) {
				t.Errorf("Check racing Close: %v", err)
			}
		}
	})
}

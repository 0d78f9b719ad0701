package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// countProcs counts the processes whose command line is argv (the remote
// hosts of the sandbox are this machine).
func countProcs(argv ...string) int {
	want := []byte(strings.Join(argv, "\x00") + "\x00")
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Equal(cl, want) {
			n++
		}
	}
	return n
}

// waitProcs waits up to d for the count of argv to satisfy ok.
func waitProcs(d time.Duration, ok func(int) bool, argv ...string) int {
	deadline := time.Now().Add(d)
	for {
		n := countProcs(argv...)
		if ok(n) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInterruptStopsRemote: SIGINT in the middle of a run stops the
// remote commands on every host, over both transports; -T does too.
func TestInterruptStopsRemote(t *testing.T) {
	srv, _ := sandbox(t)
	hosts := "127.0.0.2 127.0.0.3 127.0.0.4"
	for _, tr := range []string{"process", "mux"} {
		t.Run(tr, func(t *testing.T) {
			secs := fmt.Sprint(300000 + rand.IntN(99999))
			cmd := exec.Command(os.Args[0], "run", "-F", srv.SSHConfig, "-H", hosts, "--transport", tr,
				"-o", "KexAlgorithms=curve25519-sha256", "-t", "10s", "--", "sleep "+secs)
			cmd.Env = append(os.Environ(), "OSSH_TEST_MAIN=1", "GORACE=atexit_sleep_ms=0")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if n := waitProcs(20*time.Second, func(n int) bool { return n == 3 }, "sleep", secs); n != 3 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%d remote sleeps running, want 3\n%s", n, errb.String())
			}
			cmd.Process.Signal(syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("ossh did not exit within 15 s of SIGINT\n%s", errb.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit status %d, want 130\n%s\n%s", code, out.String(), errb.String())
			}
			if !strings.Contains(errb.String(), "interrupted") {
				t.Errorf("stderr does not say it was interrupted: %q", errb.String())
			}
			if n := waitProcs(3*time.Second, func(n int) bool { return n == 0 }, "sleep", secs); n != 0 {
				t.Errorf("%d remote sleeps left 3 s after SIGINT", n)
			}
		})
	}
	t.Run("Twice", func(t *testing.T) {
		// The remote command ignores TERM, so stopping it takes the grace
		// period; a second SIGINT does not wait for it.
		secs := fmt.Sprint(300000 + rand.IntN(99999))
		cmd := exec.Command(os.Args[0], "run", "-F", srv.SSHConfig, "-H", hosts,
			"-o", "KexAlgorithms=curve25519-sha256", "-t", "10s", "--", "trap '' TERM; sleep "+secs)
		cmd.Env = append(os.Environ(), "OSSH_TEST_MAIN=1", "GORACE=atexit_sleep_ms=0")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if n := waitProcs(20*time.Second, func(n int) bool { return n == 3 }, "sleep", secs); n != 3 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%d remote sleeps running, want 3\n%s", n, errb.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(200 * time.Millisecond)
		t0 := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Errorf("exited %v after the second SIGINT", d)
		}
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit status %d, want 130\n%s", code, errb.String())
		}
		// The remote sleeps were left to their KILL (the remote stop was
		// under way) or run on; kill what is left.
		time.Sleep(2 * time.Second)
		exec.Command("pkill", "-KILL", "-x", "-f", "sleep "+secs).Run()
	})
	t.Run("T", func(t *testing.T) {
		secs := fmt.Sprint(300000 + rand.IntN(99999))
		t0 := time.Now()
		_, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", hosts,
			"-o", "KexAlgorithms=curve25519-sha256", "-t", "10s", "-T", "2s", "--", "sleep "+secs)
		if code != 1 {
			t.Errorf("exit status %d, want 1\n%s", code, errs)
		}
		if d := time.Since(t0); d > 15*time.Second {
			t.Errorf("took %v", d)
		}
		if n := waitProcs(3*time.Second, func(n int) bool { return n == 0 }, "sleep", secs); n != 0 {
			t.Errorf("%d remote sleeps left after -T 2s", n)
		}
	})
}

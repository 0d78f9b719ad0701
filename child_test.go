package openssh

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// TestMasterChild: the way masters are started (on Linux without os/exec's
// pidfd) reports exits as os/exec does, stops and reaps the process, keeps
// no fd once the process is reaped, and sends no signal after the reaping.
func TestMasterChild(t *testing.T) {
	fds0 := sshtest.OpenFDs()
	for _, c := range []struct{ script, want string }{
		{"exit 0", ""},
		{"exit 3", "exit status 3"},
		{"kill -KILL $$", "signal: killed"},
	} {
		cmd := exec.Command("/bin/sh", "-c", c.script)
		ch, err := startMasterChild(cmd, false)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Pid() <= 0 {
			t.Errorf("%q: pid %d", c.script, ch.Pid())
		}
		got := ""
		if err := ch.Wait(); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%q: Wait = %q, want %q", c.script, got, c.want)
		}
		ch.Signal(syscall.SIGTERM) // reaped: must do nothing
	}

	// Stdout a file, stderr a pipe, its own process group; Stop ends the
	// group with the grace, then SIGKILL.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", `trap "" TERM; echo up >&2; sleep 30 & wait`)
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ch, err := startMasterChild(cmd, true)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := r.Read(buf); err != nil || string(buf) != "up\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	t0 := time.Now()
	ch.Stop(200 * time.Millisecond)
	if !ch.Exited() {
		t.Fatal("Stop returned before the reaping")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if err := ch.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait after Stop = %v, want killed", err)
	}
	// The group's sleep was killed too: the pipe reaches EOF.
	if n, err := r.Read(buf); n != 0 || err == nil {
		t.Errorf("stderr after Stop: %d bytes, %v (the group's sleep still holds it)", n, err)
	}
	if _, err := startMasterChild(exec.Command("/nonexistent/ssh"), false); err == nil || !strings.Contains(err.Error(), "/nonexistent/ssh") {
		t.Errorf("start of a missing program: %v", err)
	}
	r.Close()
	if fds := sshtest.OpenFDs(); fds != fds0 {
		t.Errorf("fds %d before, %d after", fds0, fds)
	}
}

// TestMasterFds: a running master costs the program at most 2 fds (its
// stderr pipe and the kept control connection), on both transports.
func TestMasterFds(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	for _, tr := range testTransports(t) {
		t.Run(tr.String(), func(t *testing.T) {
			const n = 4
			fds0 := sshtest.OpenFDs()
			ms := make([]*Master, n)
			for i := range ms {
				ms[i], _ = newTestMasterT(t, srv, nil, tr)
				if err := ms[i].Check(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			fds1 := sshtest.OpenFDs()
			if per := float64(fds1-fds0) / n; per > 2 {
				t.Errorf("%.2f fds per master (%d -> %d for %d masters), want at most 2", per, fds0, fds1, n)
			}
			for _, m := range ms {
				m.Close()
			}
			if fds := sshtest.OpenFDs(); fds > fds0 {
				t.Errorf("fds %d before the masters, %d after Close", fds0, fds)
			}
		})
	}
}

package openssh

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// passwordServer starts a server that accepts passwords and gives the test
// account pw; it skips the test when the harness cannot set a password.
func passwordServer(t *testing.T, pw string, cfg sshtest.Config) *sshtest.Server {
	t.Helper()
	sshtest.Require(t)
	if !sshtest.SetPassword(t, pw) {
		t.Skip("setting the test account's password needs root")
	}
	cfg.Password = true
	return sshtest.Start(t, cfg)
}

// passwordOptions returns Options that reach srv with no usable key.
func passwordOptions(t *testing.T, srv *sshtest.Server) *Options {
	return &Options{
		ConfigFile: srv.SSHConfigNoKey,
		CtlDir:     testCtlDir(t),
		Timeout:    20 * time.Second,
		BatchMode:  true, // ignored with a password, as in Net::OpenSSH
	}
}

// runSlave runs a remote command through the master and returns its output.
func runSlave(t *testing.T, m *Master, command string) string {
	t.Helper()
	argv := m.slaveArgv(slaveSpec{command: command, hasCommand: true})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("slave %q: %v: %s", command, err, out)
	}
	return string(out)
}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func debugLogger(buf *lockedBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestPasswordLoginScratch(t *testing.T) {
	checkNoLeaks(t)
	const pw = "S3cret-Pa55:word?"
	srv := passwordServer(t, pw, sshtest.Config{})
	opts := passwordOptions(t, srv)
	opts.Password = pw
	var logs lockedBuffer
	opts.Logger = debugLogger(&logs)
	start := time.Now()
	m, err := New(t.Context(), srv.Addr, opts)
	if err != nil {
		t.Fatalf("New: %v\n%s", err, srv.Log())
	}
	defer m.Close()
	t.Logf("login took %v", time.Since(start))
	if got := runSlave(t, m, "echo ok"); strings.TrimSpace(got) != "ok" {
		t.Errorf("got %q", got)
	}
	_ = errors.Is
	_ = os.Getpid
}

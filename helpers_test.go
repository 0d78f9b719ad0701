package openssh

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// testCtlDir returns a short private directory for control sockets (test
// temp dirs can be too long for a Unix socket path).
func testCtlDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ossh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// testOptions returns Options that reach srv.
func testOptions(t testing.TB, srv *sshtest.Server) *Options {
	return &Options{
		ConfigFile: srv.SSHConfig,
		CtlDir:     testCtlDir(t),
		Timeout:    20 * time.Second,
		BatchMode:  true,
		Transport:  envTransport(),
	}
}

// newTestMaster starts a server (when srv is nil) and a master on it, closed
// when the test ends.
func newTestMaster(t testing.TB, srv *sshtest.Server, opts *Options) (*Master, *sshtest.Server) {
	t.Helper()
	if srv == nil {
		srv = sshtest.Start(t, sshtest.Config{})
	}
	if opts == nil {
		opts = testOptions(t, srv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := New(ctx, srv.Addr, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, srv
}

// checkNoLeaks records the fds and ssh children at the start of a test and
// checks at its end that none are left.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	fds := sshtest.OpenFDs()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := sshtest.CountSSH()
			f := sshtest.OpenFDs()
			if n == 0 && f <= fds {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: %d ssh child processes, %d fds (was %d)", n, f, fds)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// sharedDir returns a short temp dir the remote test account can write to.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "osshT")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// envTransport is the default transport of test masters:
// OPENSSH_TEST_TRANSPORT=mux runs the whole suite over the native one.
func envTransport() Transport {
	if os.Getenv("OPENSSH_TEST_TRANSPORT") == "mux" {
		return TransportMux
	}
	return TransportProcess
}

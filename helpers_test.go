package openssh

import (
	"context"
	"os"
	"strings"
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

// testTransports returns the transports the live tests of commands,
// tunnels, forwards and master control run under: both, or those named in
// OPENSSH_TRANSPORTS (a comma-separated list of "process" and "mux"), which
// narrows a run to one while debugging.
func testTransports(t testing.TB) []Transport {
	t.Helper()
	env := os.Getenv("OPENSSH_TRANSPORTS")
	if env == "" {
		return []Transport{TransportProcess, TransportMux}
	}
	var trs []Transport
	for _, name := range strings.Split(env, ",") {
		switch strings.TrimSpace(name) {
		case "process":
			trs = append(trs, TransportProcess)
		case "mux":
			trs = append(trs, TransportMux)
		default:
			t.Fatalf("OPENSSH_TRANSPORTS: unknown transport %q", name)
		}
	}
	return trs
}

// forEachTransport runs f once per transport, as the subtests "process"
// and "mux", one after the other (as openssh-rust runs its tests over its
// two back ends). Each run starts its own Master (newTestMasterT); a server
// started before the call is shared by the runs.
func forEachTransport(t *testing.T, f func(t *testing.T, tr Transport)) {
	t.Helper()
	for _, tr := range testTransports(t) {
		t.Run(tr.String(), func(t *testing.T) { f(t, tr) })
	}
}

// testOptionsT returns Options that reach srv over transport tr.
func testOptionsT(t testing.TB, srv *sshtest.Server, tr Transport) *Options {
	o := testOptions(t, srv)
	o.Transport = tr
	return o
}

// newTestMasterT is newTestMaster with the transport set to tr (in opts
// too, when given).
func newTestMasterT(t testing.TB, srv *sshtest.Server, opts *Options, tr Transport) (*Master, *sshtest.Server) {
	t.Helper()
	if srv == nil {
		srv = sshtest.Start(t, sshtest.Config{})
	}
	if opts == nil {
		opts = testOptions(t, srv)
	}
	opts.Transport = tr
	return newTestMaster(t, srv, opts)
}

// slaveSSHCount returns the number of ssh processes the tests expect besides
// the master while one operation of a transport runs: 1 (its slave ssh) for
// TransportProcess, none for TransportMux.
func slaveSSHCount(tr Transport) int {
	if tr == TransportMux {
		return 0
	}
	return 1
}

// checkNoLeaks records the fds and ssh children at the start of a test and
// checks at its end that none are left.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	sshtest.CheckNoLeaks(t)
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

// eachMaster runs f once per transport (the subtests "process" and "mux"),
// each time with the leak check on and a fresh Master on srv (started when
// srv is nil), closed when the subtest ends. It is the prologue of the
// live tests of commands, tunnels, forwards and master control.
func eachMaster(t *testing.T, srv *sshtest.Server, f func(t *testing.T, m *Master)) {
	t.Helper()
	if srv == nil {
		srv = sshtest.Start(t, sshtest.Config{})
	}
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		m, _ := newTestMasterT(t, srv, nil, tr)
		f(t, m)
	})
}

// skipOrFail skips a test whose precondition this machine lacks, except
// under CI (CI set), where a skipped live test would make a green run
// meaningless: there it fails.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, so this cannot be skipped: "+format, args...)
	}
	t.Skipf(format, args...)
}

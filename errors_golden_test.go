package openssh

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// TestErrorsGolden keeps testdata/errors.golden: the message a user sees
// for common failures, on both transports, so that a reviewer can read
// them all in one place. Ports, temporary paths, pids, uids and key
// fingerprints are replaced by placeholders. Run with -update to rewrite
// the file after a deliberate change.
func TestErrorsGolden(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var out bytes.Buffer
	row := func(name string, err error) {
		msg := "<nil>"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(&out, "%s\n\t%s\n", name, msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Failures of the connection (the master's login).
	connect := func(name, target string, o *Options) {
		t.Helper()
		m, err := New(ctx, target, o)
		if err == nil {
			m.Close()
		}
		row(name, err)
	}
	{
		o := testOptions(t, srv)
		o.KnownHostsFile = emptyKnownHosts(t)
		connect("connect: unknown host key", srv.Addr, o)
	}
	{
		o := testOptions(t, srv)
		o.ConfigFile = srv.SSHConfigNoKey
		connect("connect: authentication failure", srv.Addr, o)
	}
	{
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		o := testOptions(t, srv)
		o.Port = port
		connect("connect: refused port", "127.0.0.1", o)
	}
	connect("connect: unresolvable host", "no-such-host.invalid", testOptions(t, srv))
	connect("connect: bad target", "host;reboot", testOptions(t, srv))
	{
		dir := testCtlDir(t)
		os.Chmod(dir, 0o777)
		p := filepath.Join(dir, "s")
		fakeSocket(t, p)
		connect("connect: external master in a world-writable directory", "", &Options{ExternalMaster: true, CtlPath: p})
	}

	refused := sshtest.Start(t, sshtest.Config{Extra: []string{"MaxSessions 0"}})
	// Both transports whatever OPENSSH_TRANSPORTS narrows the tables to:
	// the golden file holds the messages of both.
	for _, tr := range []Transport{TransportProcess, TransportMux} {
		t.Run(tr.String(), func(t *testing.T) {
			m, _ := newTestMasterT(t, srv, nil, tr)
			p := "[" + tr.String() + "] "
			_, err := m.Capture(ctx, "cat", "/nonexistent/file")
			row(p+"Capture: missing remote file", err)
			_, err = m.Capture(ctx, "touch", "/etc/denied")
			row(p+"Capture: permission denied", err)
			tctx, tcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err = m.Command(tctx, "sleep", "10").Run()
			tcancel()
			row(p+"Run: timeout (ctx deadline)", err)
			c := m.Command(ctx, "sleep 10")
			c.IdleTimeout, c.KillOnTimeout = 300*time.Millisecond, true
			row(p+"Run: idle timeout", c.Run())

			dir := xferDir(t)
			local := filepath.Join(dir, "f")
			os.WriteFile(local, []byte("x\n"), 0o644)
			missing := filepath.Join(dir, "missing")
			row(p+"RsyncGet: missing remote file", m.RsyncGet(ctx, []string{missing}, dir, nil))
			row(p+"RsyncPut: permission denied", m.RsyncPut(ctx, []string{local}, "/etc/", nil))
			row(p+"ScpGet: missing remote file", m.ScpGet(ctx, []string{missing}, dir, nil))
			row(p+"ScpPut: permission denied", m.ScpPut(ctx, []string{local}, "/etc/f", nil))
			row(p+"ScpPut: missing local file", m.ScpPut(ctx, []string{missing}, "/tmp/f", nil))

			_, err = m.Dial("tcp", "127.0.0.1:1")
			row(p+"Dial: refused port", err)

			if tr == TransportProcess || tr == TransportMux {
				rm, _ := newTestMasterT(t, refused, nil, tr)
				_, err = rm.Capture(ctx, "echo", "x")
				row(p+"Capture: session refused by the server", err)
			}

			syscall.Kill(m.MasterPID(), syscall.SIGKILL)
			deadline := time.Now().Add(5 * time.Second)
			for syscall.Kill(m.MasterPID(), 0) == nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			_, err = m.Capture(ctx, "echo", "x")
			row(p+"Capture: master killed", err)
		})
	}

	got := normalizeErrors(out.String(), srv, refused)
	golden := filepath.Join("testdata", "errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("error messages differ from %s (run with -update after a deliberate change):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// normalizeErrors replaces what changes from run to run with placeholders.
func normalizeErrors(s string, srvs ...*sshtest.Server) string {
	for _, srv := range srvs {
		s = strings.ReplaceAll(s, srv.Dir, "<SSHD_DIR>")
		s = strings.ReplaceAll(s, srv.User+"@", "<USER>@")
		s = strings.ReplaceAll(s, ":"+strconv.Itoa(srv.Port), ":<PORT>")
		s = strings.ReplaceAll(s, "port "+strconv.Itoa(srv.Port), "port <PORT>")
	}
	for _, r := range []struct {
		re   *regexp.Regexp
		repl string
	}{
		{regexp.MustCompile(`/tmp/[A-Za-z0-9._-]+`), "<TMP>"},
		{regexp.MustCompile(`\bport \d+`), "port <PORT>"},
		{regexp.MustCompile(`(/\.[^/"]+)\.[A-Za-z0-9]{6}"`), `$1.<RANDOM>"`},
		{regexp.MustCompile(`127\.0\.0\.1:\d{4,5}\b`), "127.0.0.1:<PORT>"},
		{regexp.MustCompile(`\bpid \d+`), "pid <PID>"},
		{regexp.MustCompile(`\buid \d+`), "uid <UID>"},
		{regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`), "SHA256:<FINGERPRINT>"},
		// The resolver's wording depends on the machine's network.
		{regexp.MustCompile(`(Could not resolve hostname [^:]+): .*`), "$1: <RESOLVER'S REASON>"},
		{regexp.MustCompile(`\b[a-z]+\.c\(\d+\)`), "<SOURCE>"},
		{regexp.MustCompile(`\[(Receiver|sender|generator|Sender)=[0-9.a-z]+\]`), "[$1=<VERSION>]"},
	} {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

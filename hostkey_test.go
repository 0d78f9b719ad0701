package openssh

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// emptyKnownHosts returns the path of an empty known-hosts file.
func emptyKnownHosts(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverKey returns the key part ("type base64") of srv's host key.
func serverKey(t *testing.T, srv *sshtest.Server) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(srv.Dir, "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	return f[0] + " " + f[1]
}

func TestHostKeyPolicy(t *testing.T) {
	const pw = "hostkey-pw"
	srv := passwordServer(t, pw, sshtest.Config{})
	kh := emptyKnownHosts(t)
	withPolicy := func(t *testing.T, p HostKeyPolicy, file string) *Options {
		o := testOptions(t, srv)
		o.HostKeyPolicy = p
		o.KnownHostsFile = file
		return o
	}
	t.Run("StrictUnknown", func(t *testing.T) {
		checkNoLeaks(t)
		err := connectErr(t, srv.Addr, withPolicy(t, HostKeyStrict, kh))
		if !errors.Is(err, ErrHostKeyUnknown) {
			t.Errorf("got %v, want ErrHostKeyUnknown", err)
		}
	})
	t.Run("AskOnThePty", func(t *testing.T) {
		// ssh asks on the terminal whether to trust the key: the pty
		// login sees the question and fails as unknown host key, not as
		// a bad password.
		checkNoLeaks(t)
		o := passwordOptions(t, srv)
		o.Password = pw
		o.KnownHostsFile = kh
		o.MasterOpts = []string{"-o", "StrictHostKeyChecking=ask"}
		err := connectErr(t, srv.Addr, o)
		if !errors.Is(err, ErrHostKeyUnknown) || !strings.Contains(err.Error(), "ssh asked") {
			t.Errorf("got %v, want ErrHostKeyUnknown seen on the pty", err)
		}
	})
	t.Run("AcceptNew", func(t *testing.T) {
		checkNoLeaks(t)
		m, _ := newTestMaster(t, srv, withPolicy(t, HostKeyAcceptNew, kh))
		if got := runSlave(t, m, "echo new"); got != "new\n" {
			t.Errorf("got %q", got)
		}
		m.Close()
		lines, err := LookupHostKey(t.Context(), kh, srv.Addr, srv.Port)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 || !strings.HasSuffix(lines[0], serverKey(t, srv)) {
			t.Errorf("known hosts after AcceptNew: %q, want the server's key", lines)
		}
	})
	t.Run("StrictKnown", func(t *testing.T) {
		checkNoLeaks(t)
		m, _ := newTestMaster(t, srv, withPolicy(t, HostKeyStrict, kh))
		if got := runSlave(t, m, "echo known"); got != "known\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("Off", func(t *testing.T) {
		checkNoLeaks(t)
		o := withPolicy(t, HostKeyOff, "")
		m, _ := newTestMaster(t, srv, o)
		cl, _ := os.ReadFile("/proc/" + itoa(m.MasterPID()) + "/cmdline")
		for _, want := range []string{"StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"} {
			if !strings.Contains(string(cl), want) {
				t.Errorf("master argv lacks %s", want)
			}
		}
	})

	// From here on the server has a new key: every policy that knows the
	// old one must refuse it.
	srv.RotateHostKey()
	for _, c := range []struct {
		name string
		opts func(t *testing.T) *Options
	}{
		{"ChangedStrict", func(t *testing.T) *Options { return withPolicy(t, HostKeyStrict, kh) }},
		{"ChangedAcceptNew", func(t *testing.T) *Options { return withPolicy(t, HostKeyAcceptNew, kh) }},
		{"ChangedPassword", func(t *testing.T) *Options {
			o := passwordOptions(t, srv)
			o.Password = pw
			o.KnownHostsFile = kh
			o.HostKeyPolicy = HostKeyAcceptNew
			return o
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkNoLeaks(t)
			err := connectErr(t, srv.Addr, c.opts(t))
			if !errors.Is(err, ErrHostKeyChanged) {
				t.Errorf("got %v, want ErrHostKeyChanged", err)
			}
		})
	}

	t.Run("Helpers", func(t *testing.T) {
		checkNoLeaks(t)
		ctx := t.Context()
		if _, err := AddHostKey(ctx, kh, srv.Addr, srv.Port); !errors.Is(err, ErrHostKeyChanged) {
			t.Errorf("AddHostKey over a known host: %v, want ErrHostKeyChanged", err)
		}
		if err := RemoveHostKey(ctx, kh, srv.Addr, srv.Port); err != nil {
			t.Fatal(err)
		}
		if lines, err := LookupHostKey(ctx, kh, srv.Addr, srv.Port); err != nil || len(lines) != 0 {
			t.Fatalf("after RemoveHostKey: %q %v", lines, err)
		}
		scanned, err := ScanHostKeys(ctx, srv.Addr, srv.Port)
		if err != nil {
			t.Fatal(err)
		}
		if len(scanned) != 1 || !strings.HasSuffix(scanned[0], serverKey(t, srv)) {
			t.Errorf("ScanHostKeys: %q", scanned)
		}
		added, err := AddHostKey(ctx, kh, srv.Addr, srv.Port)
		if err != nil || len(added) != 1 {
			t.Fatalf("AddHostKey: %q %v", added, err)
		}
		m, _ := newTestMaster(t, srv, withPolicy(t, HostKeyStrict, kh))
		if got := runSlave(t, m, "echo re-added"); got != "re-added\n" {
			t.Errorf("got %q", got)
		}
		// A host that was never there.
		if lines, err := LookupHostKey(ctx, kh, "never.invalid", 0); err != nil || len(lines) != 0 {
			t.Errorf("LookupHostKey of an unknown host: %q %v", lines, err)
		}
		if err := RemoveHostKey(ctx, kh, "never.invalid", 0); err != nil {
			t.Errorf("RemoveHostKey of an unknown host: %v", err)
		}
	})
}

func TestHostKeyHelperArgs(t *testing.T) {
	ctx := t.Context()
	for _, err := range []error{
		func() error { _, err := LookupHostKey(ctx, "", "h", 0); return err }(),
		func() error { _, err := LookupHostKey(ctx, "/tmp/kh", "-oProxyCommand=x", 0); return err }(),
		func() error { return RemoveHostKey(ctx, "/tmp/kh", "h", 70000) }(),
		func() error { _, err := ScanHostKeys(ctx, "a b", 22); return err }(),
		func() error { _, err := AddHostKey(ctx, "/tmp/k\x00h", "h", 22); return err }(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	}
	if got := knownHostsName("::1", 2222); got != "[::1]:2222" {
		t.Errorf("knownHostsName = %q", got)
	}
	if got := knownHostsName("example.com", 22); got != "example.com" {
		t.Errorf("knownHostsName = %q", got)
	}
}

package openssh

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// TestTargetRefusesShellMeta: host (and user) names with shell
// metacharacters, or hosts longer than a DNS name, are refused by
// ParseTarget and New, whatever the local ssh would do with them.
func TestTargetRefusesShellMeta(t *testing.T) {
	bad := []string{
		"a;b", "a|b", "a&b", "a$b", "a`id`", "a(b)", "a<b", "a>b", "a'b", `a"b`, `a\b`, "a{b}",
		"u;id@host", "u$(id)@host", "u`id`@host",
		strings.Repeat("a", 254),
		"user@" + strings.Repeat("h", 300) + ":22",
	}
	for _, target := range bad {
		_, err := ParseTarget(target)
		var ae *ArgError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTarget(%.50q) = %v, want an *ArgError", target, err)
			continue
		}
		if len(err.Error()) > 200 {
			t.Errorf("ParseTarget(%.50q): message of %d bytes", target, len(err.Error()))
		}
		m, err := New(context.Background(), target, &Options{CtlDir: testCtlDir(t), Async: true})
		if err == nil {
			m.Close()
		}
		if !errors.As(err, &ae) {
			t.Errorf("New(%.50q) = %v, want an *ArgError", target, err)
		}
	}
	for _, target := range []string{"host.example", "u@h:22", "[::1]:2222", "fe80::1", strings.Repeat("a", 253), "a_b-c.d", "p:w;$@h"} {
		if _, err := ParseTarget(target); err != nil {
			t.Errorf("ParseTarget(%.50q) = %v, want nil", target, err)
		}
	}
}

// TestOptionStringsValidated: every string option that reaches ssh is
// checked the same way before anything starts, and the message shows the
// value quoted (no raw NUL or newline in it).
func TestOptionStringsValidated(t *testing.T) {
	cases := []struct {
		name string
		set  func(o *Options)
	}{
		{"Options.KeyPath", func(o *Options) { o.KeyPath = "/tmp/key\nIdentityFile /x" }},
		{"Options.ConfigFile", func(o *Options) { o.ConfigFile = "/tmp/cfg\nx" }},
		{"Options.ConfigFile", func(o *Options) { o.ConfigFile = "/tmp/c\x00fg" }},
		{"Options.SSHPath", func(o *Options) { o.SSHPath = "/usr/bin/ssh\x00" }},
		{"Options.SSHPath", func(o *Options) { o.SSHPath = "ssh\n-v" }},
		{"Options.ProxyCommand", func(o *Options) { o.ProxyCommand = "nc %h %p\nLocalCommand x" }},
		{"Options.KnownHostsFile", func(o *Options) { o.KnownHostsFile = "/tmp/kh\r" }},
		{"Options.CtlDir", func(o *Options) { o.CtlDir = "/tmp/d\nx" }},
		{"Options.CtlPath", func(o *Options) { o.CtlPath = "/tmp/s\nx" }},
		{"Options.IdentityAgent", func(o *Options) { o.IdentityAgent = "/tmp/\"a" }},
		{"Options.CertificateFile", func(o *Options) { o.CertificateFile = "/tmp/c\n" }},
		{"Options.MasterOpts[1]", func(o *Options) { o.MasterOpts = []string{"-v", "a\x00b"} }},
	}
	for _, tc := range cases {
		o := &Options{CtlDir: testCtlDir(t), Async: true}
		tc.set(o)
		m, err := New(context.Background(), "localhost", o)
		if err == nil {
			m.Close()
		}
		var ae *ArgError
		if !errors.As(err, &ae) {
			t.Errorf("%s: %v, want an *ArgError", tc.name, err)
			continue
		}
		if !strings.HasPrefix(ae.Arg, strings.TrimSuffix(tc.name, "[1]")) {
			t.Errorf("%s: the error names %q", tc.name, ae.Arg)
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\x00\n\r") {
			t.Errorf("%s: raw control character in %q", tc.name, msg)
		}
	}
}

// TestGlobNoMatchNamesPattern: on put with Glob, each pattern must match;
// the error names the one that did not, whole.
func TestGlobNoMatchNamesPattern(t *testing.T) {
	dir := testCtlDir(t)
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := newMaster("host", &Options{CtlDir: testCtlDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, strings.Repeat("long-directory-name/", 4)+"*.none")
	for _, put := range []struct {
		name string
		run  func(local []string) error
	}{
		{"ScpPut", func(l []string) error { return m.ScpPut(context.Background(), l, "x", &ScpOpts{Glob: true}) }},
		{"RsyncPut", func(l []string) error { return m.RsyncPut(context.Background(), l, "x", &RsyncOpts{Glob: true}) }},
	} {
		err := put.run([]string{filepath.Join(dir, "*.txt"), long})
		var ae *ArgError
		if !errors.As(err, &ae) || ae.Arg != "local[1]" || !strings.Contains(err.Error(), strconv.Quote(long)) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want an *ArgError naming local[1] %q", put.name, err, long)
		}
	}
}

// TestHostKeyOffWithKnownHostsFile: HostKeyOff with a KnownHostsFile is
// accepted, as documented: the first key seen is recorded there, and a
// changed key does not stop the login.
func TestHostKeyOffWithKnownHostsFile(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	kh := emptyKnownHosts(t)
	o := testOptions(t, srv)
	o.HostKeyPolicy, o.KnownHostsFile = HostKeyOff, kh
	m, _ := newTestMaster(t, srv, o)
	if out, err := m.Capture(t.Context(), "echo", "off"); err != nil || string(out) != "off\n" {
		t.Errorf("command: %q %v", out, err)
	}
	m.Close()
	lines, err := LookupHostKey(t.Context(), kh, srv.Addr, srv.Port)
	if err != nil || len(lines) != 1 || !strings.HasSuffix(lines[0], serverKey(t, srv)) {
		t.Fatalf("known hosts after HostKeyOff: %q %v, want the server's key", lines, err)
	}
	srv.RotateHostKey()
	o = testOptions(t, srv)
	o.HostKeyPolicy, o.KnownHostsFile = HostKeyOff, kh
	m, _ = newTestMaster(t, srv, o)
	if out, err := m.Capture(t.Context(), "echo", "changed"); err != nil || string(out) != "changed\n" {
		t.Errorf("command after a key change: %q %v", out, err)
	}
}

// TestLoginHandlerHostKeyQuestion: with StrictHostKeyChecking=ask in
// MasterOpts, the LoginHandler sees ssh's host key question and answers
// it; returning without an answer fails the login with ErrHostKeyUnknown
// at once. The server's banner is not on the terminal: it reaches
// MasterStderr, as the LoginHandler doc says.
func TestLoginHandlerHostKeyQuestion(t *testing.T) {
	const banner = "Authorized use only: banner-4711"
	srv := sshtest.Start(t, sshtest.Config{Banner: banner + "\n"})
	question := regexp.MustCompile(`continue connecting \(yes/no[^)]*\)\? $`)
	opts := func(t *testing.T, h LoginHandler) (*Options, string) {
		kh := emptyKnownHosts(t)
		o := testOptions(t, srv)
		o.KnownHostsFile = kh
		o.MasterOpts = []string{"-o", "StrictHostKeyChecking=ask"}
		o.LoginHandler = h
		return o, kh
	}
	t.Run("Yes", func(t *testing.T) {
		checkNoLeaks(t)
		var seen string
		h := func(ctx context.Context, tty io.ReadWriter) error {
			text, err := expect(tty, question)
			seen = text
			if err != nil {
				return err
			}
			_, err = io.WriteString(tty, "yes\n")
			return err
		}
		o, kh := opts(t, h)
		var stderr lockedBuffer
		o.MasterStderr = &stderr
		m, err := New(t.Context(), srv.Addr, o)
		if err != nil {
			t.Fatalf("New: %v (handler saw %q)", err, seen)
		}
		defer m.Close()
		if out, err := m.Capture(t.Context(), "echo", "trusted"); err != nil || string(out) != "trusted\n" {
			t.Errorf("command: %q %v", out, err)
		}
		if !strings.Contains(seen, "can't be established") {
			t.Errorf("handler saw %q, want the host key question", seen)
		}
		if strings.Contains(seen, banner) {
			t.Errorf("the banner reached the handler's tty: %q", seen)
		}
		if !strings.Contains(string(stderr.Bytes()), banner) {
			t.Errorf("MasterStderr = %q, want the banner", string(stderr.Bytes()))
		}
		lines, err := LookupHostKey(t.Context(), kh, srv.Addr, srv.Port)
		if err != nil || len(lines) != 1 {
			t.Errorf("known hosts after yes: %q %v", lines, err)
		}
	})
	t.Run("Unanswered", func(t *testing.T) {
		checkNoLeaks(t)
		h := func(ctx context.Context, tty io.ReadWriter) error {
			_, err := expect(tty, question)
			return err
		}
		o, _ := opts(t, h)
		start := time.Now()
		_, err := New(t.Context(), srv.Addr, o)
		if !errors.Is(err, ErrHostKeyUnknown) || !errors.Is(err, ErrMasterFailed) {
			t.Errorf("got %v, want ErrHostKeyUnknown", err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("took %v: the library waited for the timeout", d)
		}
	})
	t.Run("No", func(t *testing.T) {
		checkNoLeaks(t)
		h := func(ctx context.Context, tty io.ReadWriter) error {
			if _, err := expect(tty, question); err != nil {
				return err
			}
			_, err := io.WriteString(tty, "no\n")
			return err
		}
		o, _ := opts(t, h)
		_, err := New(t.Context(), srv.Addr, o)
		if err == nil || !strings.Contains(err.Error(), "verification failed") {
			t.Errorf("got %v, want ssh's host key verification failure", err)
		}
	})
}

package openssh

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

func TestConnOptsValidation(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		arg  string
	}{
		{"UnknownCipher", Options{Ciphers: []string{"aes128-ctr", "rot13"}}, "Options.Ciphers[1]"},
		{"BadCharInMAC", Options{MACs: []string{"hmac-sha2-256,umac-64@openssh.com"}}, "Options.MACs[0]"},
		{"OptionInjection", Options{KexAlgorithms: []string{"curve25519-sha256 -oProxyCommand=x"}}, "Options.KexAlgorithms[0]"},
		{"EmptyName", Options{HostKeyAlgorithms: []string{""}}, "Options.HostKeyAlgorithms[0]"},
		{"WildcardNotInRemove", Options{Ciphers: []string{"aes*"}}, "Options.Ciphers[0]"},
		{"PrefixNotFirst", Options{Ciphers: []string{"aes128-ctr", "+aes256-ctr"}}, "Options.Ciphers[1]"},
		{"NegativeKeepalive", Options{ServerAliveInterval: -time.Second}, "Options.ServerAliveInterval"},
		{"NegativeCountMax", Options{ServerAliveCountMax: -1}, "Options.ServerAliveCountMax"},
		{"NegativeConnectTimeout", Options{ConnectTimeout: -time.Second}, "Options.ConnectTimeout"},
		{"QuoteInAgent", Options{IdentityAgent: `/tmp/a"b`}, "Options.IdentityAgent"},
		{"NewlineInCertificate", Options{CertificateFile: "/tmp/c\nHost x"}, "Options.CertificateFile"},
		{"JumpAndCommand", Options{ProxyJump: "jump", ProxyCommand: "nc %h %p"}, "Options.ProxyJump"},
		{"JumpDash", Options{ProxyJump: "ok,-oProxyCommand=x"}, "Options.ProxyJump"},
		{"JumpSpace", Options{ProxyJump: "a b"}, "Options.ProxyJump"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.CtlDir = testCtlDir(t)
			_, err := New(t.Context(), "h", &o)
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *ArgError", err)
			}
			if ae.Arg != c.arg {
				t.Errorf("Arg %q, want %q (%v)", ae.Arg, c.arg, err)
			}
		})
	}
	// Prefixed lists and wildcards in a removal are fine.
	for _, o := range []Options{
		{Ciphers: []string{"+aes128-cbc"}},
		{Ciphers: []string{"-aes*-cbc", "3des-cbc"}},
		{KexAlgorithms: []string{"^curve25519-sha256"}},
		{ProxyJump: "user@jump:2222,ssh://other:22"},
		{ProxyJump: "none"},
	} {
		o.CtlDir = testCtlDir(t)
		if _, err := newMaster("h", &o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestMethodPreferencesReachSSH(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	o := testOptions(t, srv)
	o.KexAlgorithms = []string{"curve25519-sha256", "diffie-hellman-group14-sha256"}
	o.HostKeyAlgorithms = []string{"ssh-ed25519"}
	o.Ciphers = []string{"aes256-gcm@openssh.com", "aes128-ctr"}
	o.MACs = []string{"hmac-sha2-512-etm@openssh.com"}
	o.Compression = true
	o.ServerAliveInterval = 7 * time.Second
	o.ServerAliveCountMax = 2
	o.ConnectTimeout = 4500 * time.Millisecond
	o.IdentityAgent = "none"
	o.IdentitiesOnly = true
	o.HostKeyPolicy = HostKeyAcceptNew
	o.KnownHostsFile = srv.KnownHosts
	m, err := newMaster(srv.Addr, o)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := m.DefaultSSHConfiguration(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"kexalgorithms":         "curve25519-sha256,diffie-hellman-group14-sha256",
		"hostkeyalgorithms":     "ssh-ed25519",
		"ciphers":               "aes256-gcm@openssh.com,aes128-ctr",
		"macs":                  "hmac-sha2-512-etm@openssh.com",
		"compression":           "yes",
		"serveraliveinterval":   "7",
		"serveralivecountmax":   "2",
		"connecttimeout":        "5",
		"identityagent":         "none",
		"identitiesonly":        "yes",
		"stricthostkeychecking": "accept-new",
		"userknownhostsfile":    srv.KnownHosts,
		"batchmode":             "yes",
		"port":                  itoa(srv.Port),
	} {
		if got := cfg.Get(k); got != want {
			t.Errorf("ssh -G %s = %q, want %q", k, got, want)
		}
	}
	// And the master really connects with them.
	m2, _ := newTestMaster(t, srv, o)
	if got := runSlave(t, m2, "echo prefs"); got != "prefs\n" {
		t.Errorf("got %q", got)
	}
}

func TestCipherMismatch(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{Extra: []string{"Ciphers aes256-gcm@openssh.com"}})
	o := testOptions(t, srv)
	o.Ciphers = []string{"aes128-ctr"}
	start := time.Now()
	err := connectErr(t, srv.Addr, o)
	if !errors.Is(err, ErrMasterFailed) || !errors.Is(err, ErrNegotiation) || !strings.Contains(err.Error(), "no matching cipher found") {
		t.Fatalf("got %v, want a master failure that says no matching cipher", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	t.Logf("error: %v", err)
	// The server's cipher works.
	o = testOptions(t, srv)
	o.Ciphers = []string{"aes256-gcm@openssh.com"}
	m, _ := newTestMaster(t, srv, o)
	if got := runSlave(t, m, "echo gcm"); got != "gcm\n" {
		t.Errorf("got %q", got)
	}
}

func TestProxyJumpArgs(t *testing.T) {
	o := &Options{CtlDir: testCtlDir(t), ProxyJump: "jumper@gw:2200", CertificateFile: "/tmp/my cert%1", IdentitiesOnly: true}
	m, err := newMaster("h", o)
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Join(m.masterArgv(), " ")
	for _, want := range []string{"-o ProxyJump=jumper@gw:2200", `-o CertificateFile="/tmp/my cert%%1"`, "-o IdentitiesOnly=yes", "-o StrictHostKeyChecking=yes"} {
		if !strings.Contains(argv, want) {
			t.Errorf("master argv %q lacks %q", argv, want)
		}
	}
	cfg, err := m.DefaultSSHConfiguration(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Get("ProxyJump"); got != "jumper@gw:2200" {
		t.Errorf("ssh -G proxyjump = %q", got)
	}
	// ssh -G shows file options before token expansion.
	if got := cfg.Get("certificatefile"); got != "/tmp/my cert%%1" {
		t.Errorf("ssh -G certificatefile = %q", got)
	}
}

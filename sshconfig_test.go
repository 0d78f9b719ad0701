package openssh

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

func TestDefaultSSHConfigurationUserAndPort(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	// The config file names srv's user and port; the target wins, and
	// ssh -G must be asked with it (Net::OpenSSH passes only the host).
	o := testOptions(t, srv)
	m, err := newMaster("someone@"+srv.Addr+":2022", o)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := m.DefaultSSHConfiguration(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Get("user") != "someone" || cfg.Get("port") != "2022" || cfg.Get("hostname") != srv.Addr {
		t.Errorf("user %q port %q hostname %q", cfg.Get("user"), cfg.Get("port"), cfg.Get("hostname"))
	}
	if len(cfg["sendenv"]) == 0 && len(cfg["identityfile"]) == 0 {
		t.Errorf("no multi-valued option parsed: %v", cfg)
	}
	// Without the overrides, the config file decides.
	m, err = newMaster(srv.Addr, o)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = m.DefaultSSHConfiguration(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Get("User") != srv.User || cfg.Get("Port") != itoa(srv.Port) {
		t.Errorf("user %q port %q", cfg.Get("user"), cfg.Get("port"))
	}
	// ssh's own refusal is reported.
	o2 := testOptions(t, srv)
	o2.MasterOpts = []string{"-o", "NoSuchOption=1"}
	m, err = newMaster(srv.Addr, o2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DefaultSSHConfiguration(t.Context()); !errors.Is(err, ErrSlaveFailed) {
		t.Errorf("got %v, want ErrSlaveFailed", err)
	}
}

func TestAuthMethods(t *testing.T) {
	checkNoLeaks(t)
	srv := passwordServer(t, "auth-methods-pw", sshtest.Config{})
	o := testOptions(t, srv)
	o.Timeout = 10 * time.Second
	m, err := newMaster(srv.Addr, o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.AuthMethods(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"publickey", "password"}) {
		t.Errorf("AuthMethods = %q, want publickey,password", got)
	}
	srv.Config.Password = false
	srv.Restart()
	if got, err = m.AuthMethods(t.Context()); err != nil || !slices.Equal(got, []string{"publickey"}) {
		t.Errorf("AuthMethods = %q, %v; want publickey", got, err)
	}
	// The host key is checked first.
	o.KnownHostsFile = emptyKnownHosts(t)
	m, err = newMaster(srv.Addr, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AuthMethods(t.Context()); !errors.Is(err, ErrHostKeyUnknown) {
		t.Errorf("got %v, want ErrHostKeyUnknown", err)
	}
}

package openssh

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	// Every case of Net::OpenSSH's t/uri.t, then the stricter rules.
	tests := []struct {
		in   string
		want Target
	}{
		{"foo@bar", Target{User: "foo", Host: "bar"}},
		{"foo@bar.com", Target{User: "foo", Host: "bar.com"}},
		{"bar", Target{Host: "bar"}},
		{"foo:bar@doz", Target{User: "foo", Password: "bar", HasPassword: true, Host: "doz"}},
		{"foo@bar@doz", Target{User: "foo@bar", Host: "doz"}},
		{"foo:metapun@doz", Target{User: "foo", Password: "metapun", HasPassword: true, Host: "doz"}},
		{"foo:meta@pun@doz", Target{User: "foo", Password: "meta@pun", HasPassword: true, Host: "doz"}},
		{"foo:meta:pun@doz", Target{User: "foo", Password: "meta:pun", HasPassword: true, Host: "doz"}},
		{"foo:meta:p@un@doz", Target{User: "foo", Password: "meta:p@un", HasPassword: true, Host: "doz"}},
		{"foo:met@a:pun@doz", Target{User: "foo", Password: "met@a:pun", HasPassword: true, Host: "doz"}},
		{"foo:met@a:p@un@doz", Target{User: "foo", Password: "met@a:p@un", HasPassword: true, Host: "doz"}},
		{"foo@bar:meta@pun@doz", Target{User: "foo@bar", Password: "meta@pun", HasPassword: true, Host: "doz"}},
		{"foo@bar:meta:pun@doz", Target{User: "foo@bar", Password: "meta:pun", HasPassword: true, Host: "doz"}},
		{"foo@bar:meta:p@un@doz", Target{User: "foo@bar", Password: "meta:p@un", HasPassword: true, Host: "doz"}},
		{"foo@bar:met@a:pun@doz", Target{User: "foo@bar", Password: "met@a:pun", HasPassword: true, Host: "doz"}},
		{"foo@bar:met@a:p@un@doz", Target{User: "foo@bar", Password: "met@a:p@un", HasPassword: true, Host: "doz"}},
		{"username@SAMBA.MYDOMAIN.COM@myhost.mydomain.com", Target{User: "username@SAMBA.MYDOMAIN.COM", Host: "myhost.mydomain.com"}},
		{"foo@[fe80::1:f6ff:fe01:47%eth0]", Target{User: "foo", Host: "fe80::1:f6ff:fe01:47%eth0", IPv6: true}},
		// Ports and IPv6 forms.
		{"host:22", Target{Host: "host", Port: 22}},
		{"u@host:65535", Target{User: "u", Host: "host", Port: 65535}},
		{"::1", Target{Host: "::1", IPv6: true}},
		{"[::1]", Target{Host: "::1", IPv6: true}},
		{"[::1]:2222", Target{Host: "::1", Port: 2222, IPv6: true}},
		{"u:p@[2001:db8::1]:22", Target{User: "u", Password: "p", HasPassword: true, Host: "2001:db8::1", Port: 22, IPv6: true}},
		{"  spaced:22  ", Target{Host: "spaced", Port: 22}},
		{"u:@h", Target{User: "u", HasPassword: true, Host: "h"}},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseTargetErrors(t *testing.T) {
	bad := []string{
		"", "   ", "@host", "u@", "host:", "host:abc", "host:0", "host:65536", "host:-1", "host:22 x",
		"host:+22", "host:0x16", "host:123456",
		"-oProxyCommand=evil", "u@-host", "ho st", "host\x00", "ho\tst", "host\n", "ho\x7fst",
		"[::1", "[::1]x", "[notv6]", "[1.2.3.4]", "fe80::1%eth0", "[::1]:0", "[::1%]",
		"-user@host", "u\x00@host", "a[b]", "host:22:33",
	}
	for _, in := range bad {
		_, err := ParseTarget(in)
		var ae *ArgError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTarget(%q) = %v, want an *ArgError", in, err)
		}
	}
	// A password never shows in the error text.
	_, err := ParseTarget("u:s3cret@-host")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v, want one without the password", err)
	}
}

func TestTargetHostSquared(t *testing.T) {
	for in, want := range map[string]string{"h": "h", "::1": "[::1]", "[fe80::1%eth0]:2": "[fe80::1%eth0]"} {
		tg, err := ParseTarget(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.HostSquared(); got != want {
			t.Errorf("HostSquared(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"foo:met@a:p@un@doz", "[::1]:22", "u@h:1", "-x", "a b", "::1", "[fe80::1%eth0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("error is not an *ArgError: %v", err)
			}
			return
		}
		if tg.Host == "" || tg.Host[0] == '-' {
			t.Fatalf("accepted bad host %q from %q", tg.Host, s)
		}
		if tg.Port < 0 || tg.Port > 65535 {
			t.Fatalf("port %d from %q", tg.Port, s)
		}
		if checkHost(tg.Host) != nil {
			t.Fatalf("host %q from %q fails checkHost", tg.Host, s)
		}
	})
}

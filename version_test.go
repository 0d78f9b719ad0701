package openssh

import "testing"

// ssh -V as the platforms print it: Debian's OpenSSL build, macOS's and
// OpenBSD's LibreSSL builds (OpenBSD has no portable "p" release), and
// builds without a library; rsync --version likewise.
func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		out                 string
		major, minor, patch int
		ok                  bool
	}{
		{"OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024\n", 9, 2, 1, true},
		{"OpenSSH_9.8p1, LibreSSL 3.3.6\n", 9, 8, 1, true}, // macOS 15
		{"OpenSSH_8.6p1, LibreSSL 3.3.6\n", 8, 6, 1, true}, // macOS 12
		{"OpenSSH_9.9, LibreSSL 4.0.0\n", 9, 9, 0, true},   // OpenBSD 7.6
		{"OpenSSH_9.7p1 FreeBSD-20240318, OpenSSL 3.0.13\n", 9, 7, 1, true},
		{"OpenSSH_10.0p2, without OpenSSL\n", 10, 0, 2, true},
		{"Sun_SSH_1.5\n", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		v := parseVersion(sshVersionRE, tc.out)
		if (v.err == nil) != tc.ok || v.major != tc.major || v.minor != tc.minor || v.patch != tc.patch {
			t.Errorf("ssh -V %q: %d.%d.%d err %v", tc.out, v.major, v.minor, v.patch, v.err)
		}
	}
	if v := parseVersion(sshVersionRE, "OpenSSH_9.8p1, LibreSSL 3.3.6"); !v.atLeast(9, 8, 0) || v.atLeast(9, 9, 0) {
		t.Errorf("atLeast on 9.8p1: %+v", v)
	}
	for _, tc := range []struct {
		out                 string
		major, minor, patch int
	}{
		{"rsync  version 3.2.7  protocol version 31\n", 3, 2, 7},
		{"openrsync: protocol version 29\nrsync version 2.6.9 compatible\n", 2, 6, 9}, // macOS 15
		{"rsync  version v3.4.1  protocol version 32\n", 3, 4, 1},
	} {
		v := parseVersion(rsyncVersionRE, tc.out)
		if v.err != nil || v.major != tc.major || v.minor != tc.minor || v.patch != tc.patch {
			t.Errorf("rsync --version %q: %d.%d.%d err %v", tc.out, v.major, v.minor, v.patch, v.err)
		}
	}
}

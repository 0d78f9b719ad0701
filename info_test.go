package openssh

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// sshG returns ssh -G's resolved configuration for args (lower-case keys).
func sshG(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("ssh", append([]string{"-G"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ssh -G: %v", err)
	}
	cfg := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			cfg[k] = v
		}
	}
	return cfg
}

// TestInfo: Info's algorithms are those that ssh -G says the pinned
// options request, its fingerprint is ssh-keygen -l's of the server's host
// key, its key is that key; no debug line reaches MasterStderr.
func TestInfo(t *testing.T) {
	if !localSSHVersion().atLeast(8, 5, 0) {
		skipOrFail(t, "ssh older than 8.5 has no LogVerbose")
	}
	srv := sshtest.Start(t, sshtest.Config{})
	pub, err := exec.Command("ssh-keygen", "-lf", filepath.Join(srv.Dir, "host_ed25519.pub")).Output()
	if err != nil {
		t.Fatal(err)
	}
	wantFP := strings.Fields(string(pub))[1]
	keyLine, _ := exec.Command("cat", filepath.Join(srv.Dir, "host_ed25519.pub")).Output()
	wantKey := strings.Join(strings.Fields(string(keyLine))[:2], " ")
	pinned := []string{"-o", "KexAlgorithms=curve25519-sha256", "-o", "HostKeyAlgorithms=ssh-ed25519",
		"-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-512-etm@openssh.com", "-o", "Compression=yes"}
	g := sshG(t, append(append([]string{"-F", srv.SSHConfig}, pinned...), "-p", strconv.Itoa(srv.Port), "--", srv.Addr)...)
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		var stderr lockedBuffer
		o := testOptionsT(t, srv, tr)
		o.KexAlgorithms = []string{"curve25519-sha256"}
		o.HostKeyAlgorithms = []string{"ssh-ed25519"}
		o.Ciphers = []string{"aes128-ctr"}
		o.MACs = []string{"hmac-sha2-512-etm@openssh.com"}
		o.Compression = true
		o.MasterStderr = &stderr
		m, _ := newTestMaster(t, srv, o)
		in, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, got, want string }{
			{"Kex", in.Kex, g["kexalgorithms"]},
			{"HostKeyAlgorithm", in.HostKeyAlgorithm, g["hostkeyalgorithms"]},
			{"CipherClientToServer", in.CipherClientToServer, g["ciphers"]},
			{"CipherServerToClient", in.CipherServerToClient, g["ciphers"]},
			{"MACClientToServer", in.MACClientToServer, g["macs"]},
			{"MACServerToClient", in.MACServerToClient, g["macs"]},
			{"CompressionClientToServer", in.CompressionClientToServer, "zlib@openssh.com"},
			{"CompressionServerToClient", in.CompressionServerToClient, "zlib@openssh.com"},
			{"HostKeyType", in.HostKeyType, "ssh-ed25519"},
			{"HostKeyFingerprint", in.HostKeyFingerprint, wantFP},
			{"HostKey", in.HostKey, wantKey},
			{"KnownHostsFile", in.KnownHostsFile, srv.KnownHosts},
		} {
			if c.got != c.want {
				t.Errorf("Info.%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if g["compression"] != "yes" {
			t.Errorf("ssh -G compression %q", g["compression"])
		}
		if !strings.HasPrefix(in.ServerVersion, "SSH-2.0-OpenSSH_") || !strings.HasPrefix(in.ClientVersion, "SSH-2.0-OpenSSH_") {
			t.Errorf("versions: server %q client %q", in.ServerVersion, in.ClientVersion)
		}
		if in.KnownHostsLine != 1 {
			t.Errorf("KnownHostsLine %d, want 1", in.KnownHostsLine)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := m.Capture(ctx, "echo", "x"); err != nil || string(out) != "x\n" {
			t.Fatalf("Capture: %q, %v", out, err)
		}
		// A new connection after Restart is described anew.
		if err := m.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if in2, err := m.Info(); err != nil || in2.HostKeyFingerprint != wantFP {
			t.Errorf("Info after Restart: %+v, %v", in2, err)
		}
		m.Close()
		if _, err := m.Info(); !errors.Is(err, ErrNoInfo) {
			t.Errorf("Info after Close: %v, want ErrNoInfo", err)
		}
		if s := string(stderr.Bytes()); strings.Contains(s, "debug") || strings.Contains(s, "kex") {
			t.Errorf("the library's debug lines reached MasterStderr:\n%s", s)
		}
	})
}

// TestInfoUserVerbosity: with -v in MasterOpts, MasterStderr gets the debug
// output, and Info still works.
func TestInfoUserVerbosity(t *testing.T) {
	if !localSSHVersion().atLeast(8, 5, 0) {
		skipOrFail(t, "ssh older than 8.5 has no LogVerbose")
	}
	defer checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	var stderr lockedBuffer
	o := testOptions(t, srv)
	o.MasterOpts = []string{"-v"}
	o.MasterStderr = &stderr
	m, _ := newTestMaster(t, srv, o)
	in, err := m.Info()
	if err != nil || in.Kex == "" {
		t.Fatalf("Info: %+v, %v", in, err)
	}
	m.Close()
	if s := string(stderr.Bytes()); !strings.Contains(s, "debug1: ") {
		t.Errorf("-v asked for and no debug lines in MasterStderr:\n%s", s)
	}
}

// TestStderrFilter: debug lines are taken out, others pass whole, partial
// lines that cannot be debug lines pass at once.
func TestStderrFilter(t *testing.T) {
	var tail, user bytes.Buffer
	p := &infoParser{}
	f := &stderrFilter{tail: &tail, user: &user, info: p}
	f.Write([]byte("Warning: Permanently added x\r\ndebug1: kex.c:choose_kex():929 (pid=7): kex: alg"))
	f.Write([]byte("orithm: curve25519-sha256\r\nPass"))
	if user.String() != "Warning: Permanently added x\r\nPass" {
		t.Errorf("user got %q", user.String())
	}
	f.Write([]byte("word changed\r\ndebu"))
	f.Write([]byte("g1: Server host key: ssh-ed25519 SHA256:abc\r\n"))
	f.flush()
	if tail.String() != "Warning: Permanently added x\r\nPassword changed\r\n" {
		t.Errorf("tail got %q", tail.String())
	}
	in, ok := p.result()
	if !ok || in.Kex != "curve25519-sha256" || in.HostKeyFingerprint != "SHA256:abc" {
		t.Errorf("parsed %+v (%v)", in, ok)
	}
	// The location LogVerbose puts on other lines of the files it names
	// reaches neither the error tail nor the user, unless they asked for
	// debug output.
	tail.Reset()
	user.Reset()
	loc := "sshconnect.c:check_host_key():1140 (pid=7): "
	f.Write([]byte(loc + "No ED25519 host key is known for x\r\n"))
	if tail.String() != "No ED25519 host key is known for x\r\n" || user.String() != tail.String() {
		t.Errorf("location kept: tail %q, user %q", tail.String(), user.String())
	}
	f.keepDebug = true
	user.Reset()
	f.Write([]byte(loc + "again\n"))
	if user.String() != loc+"again\n" {
		t.Errorf("a user who asked for debug output got %q", user.String())
	}
}

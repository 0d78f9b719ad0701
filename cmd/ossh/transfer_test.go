package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPutGet(t *testing.T) {
	srv, _ := sandbox(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "data.bin")
	data := bytes.Repeat([]byte{0, 1, 2, 255, '\n'}, 400000)
	os.WriteFile(src, data, 0o750)
	os.Chmod(src, 0o750)
	remote := "/tmp/ossh-test-" + filepath.Base(dir) + "-%LABEL%.bin"
	hosts := []string{"-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3"}
	out, errs, code := ossh(t, append(append([]string{"put", "--progress-interval", "0.1"}, hosts...), src, remote)...)
	if code != 0 {
		t.Fatalf("put: exit %d\n%s%s", code, out, errs)
	}
	// Not a terminal: plain progress lines with the bytes of both hosts.
	if !regexp.MustCompile(`(?m)^ossh: [0-2]/2 hosts done, 0 failed, \d+s, [0-9.]+ [KMG]?i?B of 3\.8 MiB copied`).MatchString(errs) {
		t.Errorf("no progress line:\n%s", errs)
	}
	// The new remote files have the local file's mode, as with scp.
	out, errs, code = ossh(t, append(append([]string{"run"}, hosts...), "--", "stat -c %a "+remote)...)
	if live, _ := splitOut(out); code != 0 || strings.Join(live, " ") != "127.0.0.2: 750 127.0.0.3: 750" {
		t.Errorf("modes: exit %d %q %s", code, live, errs)
	}
	// Mark each host's copy, so that a get mixing hosts up shows.
	out, errs, code = ossh(t, append(append([]string{"run", "-q", "--transport", "process"}, hosts...), "--", "printf %LABEL% >> "+remote)...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errs)
	}
	// One get from both hosts, a directory per host locally: over SFTP,
	// then scp.
	for _, how := range [][]string{{"--transport", "mux"}, {"--scp"}} {
		got := filepath.Join(dir, "got"+how[0])
		out, errs, code = ossh(t, append(append(append([]string{"get"}, how...), hosts...), remote, got)...)
		if code != 0 {
			t.Fatalf("get %s: exit %d\n%s%s", how, code, out, errs)
		}
		for _, h := range []string{"127.0.0.2", "127.0.0.3"} {
			name := strings.ReplaceAll(filepath.Base(remote), "%LABEL%", h)
			b, err := os.ReadFile(filepath.Join(got, h, name))
			if err != nil || !bytes.Equal(b, append(data, h...)) {
				t.Errorf("get %s: %s: %d bytes back, %v", how, h, len(b), err)
			}
		}
	}
	ossh(t, append(append([]string{"run", "-q"}, hosts...), "--", "rm", "-f", remote)...)
	// put into a directory (SFTP and scp): the file keeps its name.
	rdir := "/tmp/ossh-test-dir-" + filepath.Base(dir) + "-%LABEL%"
	ossh(t, append(append([]string{"run", "-q"}, hosts...), "--", "mkdir", rdir)...)
	for _, how := range []string{"--scp=false", "--scp"} {
		out, errs, code = ossh(t, append(append([]string{"put", how}, hosts...), src, rdir)...)
		out2, _, code2 := osshIn(t, bytes.NewReader(data), append(append([]string{"run", "-q", "--stdin"}, hosts...), "--", "cmp "+rdir+"/data.bin - && rm "+rdir+"/data.bin")...)
		if code != 0 || code2 != 0 {
			t.Errorf("put %s into a directory: exit %d, %d\n%s%s%s", how, code, code2, out, errs, out2)
		}
	}
	ossh(t, append(append([]string{"run", "-q"}, hosts...), "--", "rmdir", rdir)...)
	// A missing remote file: the host fails (a transfer error), no local
	// file is left.
	for _, how := range []string{"--scp=false", "--scp"} {
		out, _, code = ossh(t, "get", how, "-F", srv.SSHConfig, "-H", "127.0.0.2", "/nonexistent/x", dir)
		if code != exitFailed || !regexp.MustCompile(`127\.0\.0\.2 +FAILED .* transfer: `).MatchString(out) {
			t.Errorf("get %s of a missing file: exit %d\n%s", how, code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "127.0.0.2", "x")); !os.IsNotExist(err) {
			t.Errorf("get %s: partial file left: %v", how, err)
		}
	}
}

// The README's first command must keep working.
func TestDemo(t *testing.T) {
	out, errs, code := ossh(t, "demo", "-n", "3")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"host3: label=host3", "host1: goopenssh", "ossh: 3 hosts: 3 ok, 0 failed, 0 unreachable", "3 hosts, 0 failures; masters closed, sandbox torn down"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "host2: 2670324473 21"); n != 1 {
		t.Errorf("the copied file's checksum shows %d times:\n%s", n, out)
	}
}

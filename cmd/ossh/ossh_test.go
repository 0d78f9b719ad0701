package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
	"go.uber.org/goleak"
)

// TestMain runs ossh itself when the test binary is started as a helper
// process (OSSH_TEST_MAIN=1), so tests run the real command line without
// building a binary.
func TestMain(m *testing.M) {
	if os.Getenv("OSSH_TEST_MAIN") == "1" {
		ctx, stop := interruptContext()
		code := run(ctx, os.Args[1:])
		stop()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// ossh runs the command line and returns stdout, stderr and the exit status.
func ossh(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "OSSH_TEST_MAIN=1", "GORACE=atexit_sleep_ms=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func sandbox(t *testing.T) (*sshtest.Server, string) {
	srv := sshtest.Start(t, sshtest.Config{Addrs: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}})
	hosts := filepath.Join(t.TempDir(), "hosts")
	// 127.0.0.5 has no sshd on the port: connection refused.
	os.WriteFile(hosts, []byte("# sandbox\n127.0.0.4\n\n127.0.0.5   # down\n"), 0o644)
	return srv, hosts
}

var liveRE = regexp.MustCompile(`^127\.0\.0\.\d: `)

func TestRun(t *testing.T) {
	srv, hosts := sandbox(t)
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-f", hosts,
		"-o", "KexAlgorithms=curve25519-sha256", "-t", "10s", "--",
		"echo hi %LABEL%; echo oops >&2; [ %LABEL% != 127.0.0.3 ] || exit 3")
	if code != 1 {
		t.Fatalf("exit status %d, want 1\n%s\n%s", code, out, errs)
	}
	var live, table []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if liveRE.MatchString(l) {
			live = append(live, l)
		} else {
			table = append(table, l)
		}
	}
	sort.Strings(live)
	want := []string{"127.0.0.2: hi 127.0.0.2", "127.0.0.3: hi 127.0.0.3", "127.0.0.4: hi 127.0.0.4"}
	if strings.Join(live, "\n") != strings.Join(want, "\n") {
		t.Errorf("live output %q, want %q", live, want)
	}
	for _, h := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if !strings.Contains(errs, h+": oops\n") {
			t.Errorf("stderr lacks %s: oops: %q", h, errs)
		}
	}
	// The table: header, one row per host in the given order, count line.
	if len(table) != 6 || !strings.HasPrefix(table[0], "HOST") || table[5] != "ossh: 4 hosts, 2 failed" {
		t.Fatalf("summary:\n%s", strings.Join(table, "\n"))
	}
	rows := []*regexp.Regexp{
		regexp.MustCompile(`^127\.0\.0\.2 +ok +0 +\d+ ms +\d+ ms`),
		regexp.MustCompile(`^127\.0\.0\.3 +FAILED +3 +\d+ ms +\d+ ms +127\.0\.0\.3: remote command exited with status 3`),
		regexp.MustCompile(`^127\.0\.0\.4 +ok +0 `),
		regexp.MustCompile(`^127\.0\.0\.5 +FAILED +- +\d+ ms +- +.*(refused|connect)`),
	}
	for i, re := range rows {
		if !re.MatchString(table[i+1]) {
			t.Errorf("row %d %q does not match %v", i, table[i+1], re)
		}
	}

	// All hosts fine: exit status 0.
	out, errs, code = ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2", "-q", "--", "true")
	if code != 0 || !strings.HasSuffix(out, "ossh: 1 hosts, 0 failed\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// Usage errors: exit status 2.
	for _, args := range [][]string{{"run", "--", "true"}, {"run", "-H", "x"}, {"put", "-H", "x", "a"}, {"bogus"}, {"run", "-H", "x", "-transport", "tcp", "--", "true"}} {
		if _, _, code := ossh(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestJSON(t *testing.T) {
	srv, hosts := sandbox(t)
	out, errs, code := ossh(t, "run", "-json", "-F", srv.SSHConfig, "-H", "127.0.0.2", "-f", hosts, "--", "echo", "a b", "%LABEL%")
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var res []jsonResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	for i, h := range []string{"127.0.0.2", "127.0.0.4"} {
		r := res[i]
		if r.Label != h || !r.OK || r.ExitCode != 0 || r.Stdout != "a b "+h+"\n" || r.Error != "" || r.ConnectMS <= 0 {
			t.Errorf("%s: %+v", h, r)
		}
	}
	if r := res[2]; r.Label != "127.0.0.5" || r.OK || r.ExitCode != -1 || r.Error == "" {
		t.Errorf("down host: %+v", r)
	}
}

func TestPutGet(t *testing.T) {
	srv, _ := sandbox(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "data.bin")
	data := bytes.Repeat([]byte{0, 1, 2, 255, '\n'}, 50000)
	os.WriteFile(src, data, 0o644)
	remote := "/tmp/ossh-test-" + strings.ReplaceAll(filepath.Base(dir), "/", "") + "-%LABEL%.bin"
	hosts := []string{"-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3"}
	out, errs, code := ossh(t, append(append([]string{"put"}, hosts...), src, remote)...)
	if code != 0 {
		t.Fatalf("put: exit %d\n%s%s", code, out, errs)
	}
	// Mark each host's copy, so that a get mixing hosts up shows.
	out, errs, code = ossh(t, append(append([]string{"run", "-q", "-transport", "process"}, hosts...), "--", "printf %LABEL% >> "+remote)...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errs)
	}
	// One get from both hosts, a directory per host locally.
	got := filepath.Join(dir, "got")
	out, errs, code = ossh(t, append(append([]string{"get", "-transport", "mux"}, hosts...), remote, got)...)
	if code != 0 {
		t.Fatalf("get: exit %d\n%s%s", code, out, errs)
	}
	for _, h := range []string{"127.0.0.2", "127.0.0.3"} {
		name := strings.ReplaceAll(filepath.Base(remote), "%LABEL%", h)
		b, err := os.ReadFile(filepath.Join(got, h, name))
		if err != nil || !bytes.Equal(b, append(data, h...)) {
			t.Errorf("%s: %d bytes back, %v", h, len(b), err)
		}
	}
	ossh(t, append(append([]string{"run", "-q"}, hosts...), "--", "rm", "-f", remote)...)
	// A missing remote file: the host fails, no local file is left.
	out, _, code = ossh(t, "get", "-F", srv.SSHConfig, "-H", "127.0.0.2", "/nonexistent/x", dir)
	if code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("get of a missing file: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "127.0.0.2", "x")); !os.IsNotExist(err) {
		t.Errorf("partial file left: %v", err)
	}
}

// The README's first command must keep working.
func TestDemo(t *testing.T) {
	out, errs, code := ossh(t, "demo", "-n", "3")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"host3: label=host3", "host1: goopenssh", "ossh: 3 hosts, 0 failed", "3 hosts, 0 failures; masters closed, sandbox torn down"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "host2: 2670324473 21"); n != 1 {
		t.Errorf("the copied file's checksum shows %d times:\n%s", n, out)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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

// osshCmd returns the command running ossh with args.
func osshCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "OSSH_TEST_MAIN=1", "GORACE=atexit_sleep_ms=0")
	return cmd
}

// ossh runs the command line and returns stdout, stderr and the exit status.
func ossh(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return osshIn(t, nil, args...)
}

// osshIn is ossh with stdin (nil: /dev/null).
func osshIn(t *testing.T, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osshCmd(ctx, args...)
	cmd.Stdin = stdin
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

// sandbox starts sshd on 127.0.0.2-4 and writes a hosts file naming
// 127.0.0.4 and 127.0.0.5, where nothing listens (connection refused).
func sandbox(t *testing.T) (*sshtest.Server, string) {
	srv := sshtest.Start(t, sshtest.Config{Addrs: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}})
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("# sandbox\n127.0.0.4\n\n127.0.0.5   # down\n"), 0o644)
	return srv, hosts
}

var liveRE = regexp.MustCompile(`^127\.0\.0\.\d: `)

// splitOut separates live "host: " lines (sorted) from the rest.
func splitOut(out string) (live, rest []string) {
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if liveRE.MatchString(l) {
			live = append(live, l)
		} else if l != "" {
			rest = append(rest, l)
		}
	}
	sort.Strings(live)
	return live, rest
}

func TestRun(t *testing.T) {
	srv, hosts := sandbox(t)
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-f", hosts,
		"-o", "KexAlgorithms=curve25519-sha256", "-t", "10", "--",
		"echo hi %LABEL%; echo oops >&2; [ %LABEL% != 127.0.0.3 ] || exit 3")
	if code != exitUnreachable {
		t.Fatalf("exit status %d, want %d (a host unreachable)\n%s\n%s", code, exitUnreachable, out, errs)
	}
	live, table := splitOut(out)
	want := []string{"127.0.0.2: hi 127.0.0.2", "127.0.0.3: hi 127.0.0.3", "127.0.0.4: hi 127.0.0.4"}
	if strings.Join(live, "\n") != strings.Join(want, "\n") {
		t.Errorf("live output %q, want %q", live, want)
	}
	for _, h := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if !strings.Contains(errs, h+": oops\n") {
			t.Errorf("stderr lacks %s: oops: %q", h, errs)
		}
	}
	// The summary: header, the two failed hosts in the given order, the
	// count line.
	rows := []*regexp.Regexp{
		regexp.MustCompile(`^HOST +STATUS +EXIT +CONNECT +RUN +ERROR$`),
		regexp.MustCompile(`^127\.0\.0\.3 +FAILED +3 +\d+ ms +\d+ ms +command: 127\.0\.0\.3: remote command exited with status 3`),
		regexp.MustCompile(`^127\.0\.0\.5 +UNREACHABLE +- +\d+ ms +- +connect: .*(refused|connect)`),
		regexp.MustCompile(`^ossh: 4 hosts: 2 ok, 1 failed, 1 unreachable \(\d+\.\d s\)$`),
	}
	if len(table) != len(rows) {
		t.Fatalf("summary:\n%s", strings.Join(table, "\n"))
	}
	for i, re := range rows {
		if !re.MatchString(table[i]) {
			t.Errorf("line %d %q does not match %v", i, table[i], re)
		}
	}

	// Reached hosts, a command failed: 1. --summary-all lists every host.
	out, errs, code = ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-q", "-a", "--", "[ %LABEL% != 127.0.0.3 ]")
	_, table = splitOut(out)
	if code != exitFailed || len(table) != 4 || !strings.HasPrefix(table[1], "127.0.0.2 ") || !strings.HasPrefix(table[2], "127.0.0.3 ") {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailed, out, errs)
	}
	// All hosts fine: 0, and the summary is the count line alone.
	out, errs, code = ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-q", "true")
	if code != exitOK || !regexp.MustCompile(`^ossh: 2 hosts: 2 ok, 0 failed, 0 unreachable \(\d+\.\d s\)\n$`).MatchString(out) {
		t.Fatalf("exit %d\n%q%s", code, out, errs)
	}
	// Usage errors: 2, and nothing runs.
	for _, args := range [][]string{
		{"run", "--", "true"}, {"run", "-H", "x"}, {"put", "-H", "x", "a"}, {"bogus"},
		{"run", "-H", "x", "--transport", "tcp", "--", "true"}, {"run", "-H", "x", "-t", "5x", "true"},
		{"run", "-H", "x", "--json", "--inline", "true"}, {"run", "-H", "bad/label", "true"},
		{"run", "-H", "x", "--no-such-flag", "true"}, {"demo", "-n", "17"},
	} {
		if _, errs, code := ossh(t, args...); code != exitUsage || errs == "" {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, code, exitUsage, errs)
		}
	}
	// An output directory that cannot be made: 4.
	if _, errs, code := ossh(t, "run", "-H", "x", "--outdir", "/dev/null/out", "true"); code != exitInternal || !strings.Contains(errs, "ossh: --outdir /dev/null/out: mkdir /dev/null: not a directory") {
		t.Errorf("bad --outdir: exit %d, %q", code, errs)
	}
	// An unreadable hosts file: 4.
	if _, errs, code := ossh(t, "run", "-f", "/nonexistent/hosts", "true"); code != exitInternal || !strings.Contains(errs, "/nonexistent/hosts") {
		t.Errorf("missing hosts file: exit %d, %q", code, errs)
	}
}

// Live output is written a whole line at a time: a host's partial line
// waits for its end (or the command's), whatever other hosts write
// meanwhile.
func TestLivePartialLines(t *testing.T) {
	srv, _ := sandbox(t)
	cmd := `case %LABEL% in
127.0.0.2) printf part; sleep 1; printf 'rest\n'; printf tail;;
*) sleep 0.3; echo whole; printf 'half'; sleep 1; echo ' and half' ;;
esac`
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3 127.0.0.4", "--", cmd)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	live, _ := splitOut(out)
	want := []string{"127.0.0.2: partrest", "127.0.0.2: tail", "127.0.0.3: half and half", "127.0.0.3: whole", "127.0.0.4: half and half", "127.0.0.4: whole"}
	if strings.Join(live, "\n") != strings.Join(want, "\n") {
		t.Errorf("live output:\n%s\nwant:\n%s", strings.Join(live, "\n"), strings.Join(want, "\n"))
	}
}

// A host listed twice (in -H and a file) runs once, and ossh says so once.
func TestDuplicateHosts(t *testing.T) {
	srv, _ := sandbox(t)
	f := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(f, []byte("127.0.0.2\n127.0.0.3\n127.0.0.2\n"), 0o644)
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2", "-f", f, "--", "echo ran")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	live, rest := splitOut(out)
	if strings.Join(live, "\n") != "127.0.0.2: ran\n127.0.0.3: ran" || !strings.HasPrefix(rest[len(rest)-1], "ossh: 2 hosts:") {
		t.Errorf("output:\n%s", out)
	}
	if n := strings.Count(errs, "127.0.0.2 is listed more than once"); n != 1 {
		t.Errorf("%d warnings:\n%s", n, errs)
	}
}

// --stdin sends ossh's stdin to every host; without it the command reads
// nothing.
func TestStdin(t *testing.T) {
	srv, _ := sandbox(t)
	data := bytes.Repeat([]byte("line of input\x00\xff\n"), 20000)
	out, errs, code := osshIn(t, bytes.NewReader(data), "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-I", "--", "wc -c")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	live, _ := splitOut(out)
	n := len(data)
	want := []string{"127.0.0.2: " + strconv.Itoa(n), "127.0.0.3: " + strconv.Itoa(n)}
	if strings.Join(live, "\n") != strings.Join(want, "\n") {
		t.Errorf("with --stdin: %q, want %q", live, want)
	}
	out, errs, code = osshIn(t, bytes.NewReader(data), "run", "-F", srv.SSHConfig, "-H", "127.0.0.2", "--", "wc -c")
	if live, _ := splitOut(out); code != 0 || len(live) != 1 || live[0] != "127.0.0.2: 0" {
		t.Errorf("without --stdin: exit %d, %q %s", code, live, errs)
	}
}

// --failed-hosts writes the hosts that failed, unreachable or not, as a
// hosts file: a re-run with -f runs those only.
func TestFailedHostsRerun(t *testing.T) {
	srv, hosts := sandbox(t)
	failed := filepath.Join(t.TempDir(), "failed")
	_, _, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-f", hosts, "-q",
		"--failed-hosts", failed, "--", "[ %LABEL% != 127.0.0.3 ]")
	if code != exitUnreachable {
		t.Fatalf("exit %d", code)
	}
	b, err := os.ReadFile(failed)
	if err != nil || string(b) != "127.0.0.3\n127.0.0.5\n" {
		t.Fatalf("failed hosts %q, %v", b, err)
	}
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-f", failed, "-a", "--failed-hosts", failed, "--", "echo again")
	live, _ := splitOut(out)
	if code != exitUnreachable || strings.Join(live, "\n") != "127.0.0.3: again" || !strings.Contains(out, "ossh: 2 hosts: 1 ok, 0 failed, 1 unreachable") {
		t.Errorf("re-run: exit %d\n%s%s", code, out, errs)
	}
	if b, _ := os.ReadFile(failed); string(b) != "127.0.0.5\n" {
		t.Errorf("after the re-run: %q", b)
	}
}

// The login timeout bounds a host's whole connect: a host that accepts
// TCP and never answers fails after -t seconds, reconnections included.
func TestLoginTimeout(t *testing.T) {
	srv, _ := sandbox(t)
	silent := silentHost(t)
	t0 := time.Now()
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "-H", "127.0.0.2 "+silent, "-t", "1.5", "-r", "3", "--json", "true")
	el := time.Since(t0)
	if code != exitUnreachable {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if el > 5*time.Second {
		t.Errorf("took %v with a login timeout of 1.5 s", el)
	}
	rs := parseNDJSON(t, out)
	if r := rs["127.0.0.1"]; r.Status != "unreachable" || r.ErrorClass != classTimeout || !strings.Contains(r.Error, "login timeout") {
		t.Errorf("silent host: %+v", r)
	}
}

// SIGINT stops the run: the command is killed, the host reported as
// interrupted, and ossh exits with 130.
func TestInterrupt(t *testing.T) {
	srv, _ := sandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osshCmd(ctx, "run", "--json", "-F", srv.SSHConfig, "-H", "127.0.0.2", "--", "echo started; sleep 30")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	t0 := time.Now()
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || time.Since(t0) > 10*time.Second {
		t.Fatalf("exit %d after %v\n%s%s", code, time.Since(t0), out.String(), errb.String())
	}
	if r := parseNDJSON(t, out.String())["127.0.0.2"]; r.ErrorClass != classInterrupted || r.Stdout != "started\n" {
		t.Errorf("%+v", r)
	}
}

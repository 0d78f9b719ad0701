package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func parseNDJSON(t *testing.T, out string) map[string]jsonResult {
	t.Helper()
	rs := map[string]jsonResult{}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var r jsonResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		rs[r.Host] = r
	}
	return rs
}

// --json prints one object per host as the host finishes: the first line
// arrives while another host is still running.
func TestJSONStreams(t *testing.T) {
	srv, hosts := sandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osshCmd(ctx, "run", "--json", "--json-max-output", "16", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-f", hosts,
		"--", "[ %LABEL% != 127.0.0.3 ] || { sleep 2; echo 0123456789abcdefXYZ; exit 7; }; echo a b %LABEL%; echo e >&2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	var first time.Time
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if first.IsZero() {
			first = time.Now()
		}
		lines = append(lines, sc.Text())
	}
	cmd.Wait()
	end := time.Now()
	if code := cmd.ProcessState.ExitCode(); code != exitUnreachable {
		t.Fatalf("exit %d\n%s\n%s", code, strings.Join(lines, "\n"), errb.String())
	}
	if len(lines) != 4 || end.Sub(first) < time.Second {
		t.Fatalf("%d lines, the first %v before the end:\n%s", len(lines), end.Sub(first), strings.Join(lines, "\n"))
	}
	rs := parseNDJSON(t, strings.Join(lines, "\n"))
	if last := rs[hostOf(t, lines[3])]; last.Host != "127.0.0.3" {
		t.Errorf("the slow host is not last: %s", lines[3])
	}
	for _, h := range []string{"127.0.0.2", "127.0.0.4"} {
		r := rs[h]
		if r.Status != "ok" || r.ExitCode == nil || *r.ExitCode != 0 || r.Stdout != "a b "+h+"\n" || r.Stderr != "e\n" ||
			r.Error != "" || r.ErrorClass != "" || r.ConnectMS <= 0 || r.Start.IsZero() || !r.End.After(r.Start) || r.StdoutTruncated {
			t.Errorf("%s: %+v", h, r)
		}
	}
	if r := rs["127.0.0.3"]; r.Status != "failed" || r.ExitCode == nil || *r.ExitCode != 7 || r.ErrorClass != classCommand ||
		r.Stdout != "0123456789abcdef" || !r.StdoutTruncated || r.End.Sub(r.Start) < 2*time.Second {
		t.Errorf("failed host: %+v", r)
	}
	if r := rs["127.0.0.5"]; r.Status != "unreachable" || r.ExitCode != nil || r.ErrorClass != classConnect || r.Error == "" {
		t.Errorf("down host: %+v", r)
	}
	if !strings.Contains(errb.String(), "ossh: 4 hosts: 2 ok, 1 failed, 1 unreachable") {
		t.Errorf("stderr: %s", errb.String())
	}
}

func hostOf(t *testing.T, line string) string {
	var r jsonResult
	json.Unmarshal([]byte(line), &r)
	return r.Host
}

// --inline prints each host's output in one block; --outdir and --errdir
// write a file per host, and ossh prints a status line per host.
func TestInlineAndOutdir(t *testing.T) {
	srv, hosts := sandbox(t)
	cmd := "echo one %LABEL%; sleep 0.2; echo err %LABEL% >&2; echo two %LABEL%"
	out, errs, code := ossh(t, "run", "--inline", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "--", cmd)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, h := range []string{"127.0.0.2", "127.0.0.3"} {
		block := "[SUCCESS] " + h + "\none " + h + "\ntwo " + h + "\nstderr:\nerr " + h + "\n"
		if !strings.Contains(out, block) {
			t.Errorf("no block for %s:\n%s", h, out)
		}
	}
	dir := t.TempDir()
	od, ed := filepath.Join(dir, "out"), filepath.Join(dir, "err")
	out, errs, code = ossh(t, "run", "--outdir", od, "-e", ed, "-F", srv.SSHConfig, "-H", "127.0.0.2", "-f", hosts, "--", cmd)
	if code != exitUnreachable {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, h := range []string{"127.0.0.2", "127.0.0.4"} {
		o, _ := os.ReadFile(filepath.Join(od, h))
		e, _ := os.ReadFile(filepath.Join(ed, h))
		if string(o) != "one "+h+"\ntwo "+h+"\n" || string(e) != "err "+h+"\n" {
			t.Errorf("%s: stdout file %q, stderr file %q", h, o, e)
		}
		if !strings.Contains(out, "[SUCCESS] "+h+"\n") {
			t.Errorf("no status line for %s:\n%s", h, out)
		}
	}
	if !strings.Contains(out, "[FAILURE] 127.0.0.5: ") || strings.Contains(out, "one 127") {
		t.Errorf("output:\n%s", out)
	}
	// The files get the whole output as it comes, whatever --json keeps.
	od = filepath.Join(dir, "out2")
	out, errs, code = ossh(t, "run", "--json", "--json-max-output", "4", "--outdir", od, "-F", srv.SSHConfig, "-H", "127.0.0.2", "--", "seq 100000")
	o, _ := os.ReadFile(filepath.Join(od, "127.0.0.2"))
	r := parseNDJSON(t, out)["127.0.0.2"]
	if code != 0 || len(o) != 588895 || !strings.HasSuffix(string(o), "\n99999\n100000\n") || r.Stdout != "1\n2\n" || !r.StdoutTruncated {
		t.Errorf("exit %d, file of %d bytes, JSON %+v %s", code, len(o), r, errs)
	}
}

func TestLabels(t *testing.T) {
	specs, err := labelHosts([]string{"a:2222", "u@b", "c:22", "d:1", "d:2", "u:secret@e:2200", "[::1]:2222", "u@f:1", "f:2", "g", "g:22", "u:pw@g:2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "u@b", "c", "d:1", "d:2", "u@e", "::1", "u@f", "f", "g", "g:22", "u@g"}
	for i, s := range specs {
		if s.label != want[i] {
			t.Errorf("%s: label %q, want %q", s.target, s.label, want[i])
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{"h": "h", "u@h:22": "u@h:22", "u:pw@h": "u:***@h", "u:p@w@h:2": "u:***@h:2", "[::1]:22": "[::1]:22"} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "1.5": 1500 * time.Millisecond, "0": 0, "90s": 90 * time.Second, "2m": 2 * time.Minute, " 3 ": 3 * time.Second} {
		var d time.Duration
		if err := (seconds{&d}).Set(in); err != nil || d != want {
			t.Errorf("%q: %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "-2s", "5 s", "NaN", "1e300"} {
		var d time.Duration
		if err := (seconds{&d}).Set(in); err == nil {
			t.Errorf("%q accepted as %v", in, d)
		}
	}
}

// silentHost listens on 127.0.0.1, accepts connections and never answers.
func silentHost(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}

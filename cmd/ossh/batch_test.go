package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// --batch runs the hosts a batch after the other; --max-fail stops after a
// batch where too many failed, and the hosts left are reported as not run
// (in --json and --failed-hosts too).
func TestBatchesMaxFail(t *testing.T) {
	srv, _ := sandbox(t)
	hosts := []string{"-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5"}
	// Batches of 2, nothing fails: the second batch starts after the
	// first has finished (each host sleeps 0.5 s).
	t0 := time.Now()
	out, errs, code := ossh(t, append(append([]string{"run", "--batch", "2", "-a"}, hosts[:3]...), "127.0.0.2 127.0.0.3 127.0.0.4", "--", "sleep 0.5; date +%s.%N")...)
	if code != 0 || time.Since(t0) < time.Second {
		t.Fatalf("exit %d after %v\n%s%s", code, time.Since(t0), out, errs)
	}
	// Batch 1 (.2, .3): .3 fails, 50% > 40%: stop; .4 and .5 are not run.
	failed := t.TempDir() + "/failed"
	out, errs, code = ossh(t, append(append([]string{"run", "--batch", "2", "--max-fail", "40", "--json", "--failed-hosts", failed}, hosts...), "--", "[ %LABEL% != 127.0.0.3 ]")...)
	if code != exitFailed {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	rs := parseNDJSON(t, out)
	for h, want := range map[string]string{"127.0.0.2": "ok", "127.0.0.3": "failed", "127.0.0.4": "not run", "127.0.0.5": "not run"} {
		if rs[h].Status != want {
			t.Errorf("%s: %+v, want %s", h, rs[h], want)
		}
	}
	if !strings.Contains(errs, "ossh: 1 of 2 hosts failed in batch 1, more than --max-fail 40%: the 2 hosts left are not run") ||
		!regexp.MustCompile(`ossh: 4 hosts: 1 ok, 1 failed, 0 unreachable, 2 not run`).MatchString(errs) {
		t.Errorf("stderr:\n%s", errs)
	}
	if b, _ := readFile(failed); b != "127.0.0.3\n127.0.0.4\n127.0.0.5\n" {
		t.Errorf("failed hosts %q", b)
	}
	// 50% is not more than 50%: every batch runs (.5 is unreachable: 3).
	out, errs, code = ossh(t, append(append([]string{"run", "--batch", "2", "--max-fail", "50", "--rate", "20"}, hosts...), "--", "[ %LABEL% != 127.0.0.3 ]")...)
	if code != exitUnreachable || !strings.Contains(out, "ossh: 4 hosts: 2 ok, 1 failed, 1 unreachable (") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/creack/pty"
)

// On a terminal, put draws a bar per host being copied and a total line,
// redrawn in place, and clears them before the summary.
func TestPutProgressTTY(t *testing.T) {
	srv, _ := sandbox(t)
	src := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(120 << 20)
	f.Close()
	remote := "/tmp/ossh-tty-" + filepath.Base(filepath.Dir(src)) + "-%LABEL%"
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := osshCmd(ctx, "put", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3 127.0.0.4", src, remote)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	var out bytes.Buffer
	io.Copy(&out, tty) // until the child exits (EIO)
	cmd.Wait()
	tty.Close()
	el := time.Since(t0)
	defer ossh(t, "run", "-q", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3 127.0.0.4", "rm -f "+remote)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d:\n%q", code, out.String())
	}
	if el < 1500*time.Millisecond {
		t.Fatalf("the copy took %v: too fast for the progress display (it starts after 1 s); make the file bigger", el)
	}
	s := out.String()
	for _, re := range []string{
		`127\.0\.0\.[234] +\[=*>? *\] +\d+% [0-9.]+ [KM]iB / 120\.0 MiB\r\n`,
		`ossh: [0-2]/3 hosts done, 0 failed, \d+s, [0-9.]+ [KM]?i?B of 360\.0 MiB copied \([0-9.]+ [KM]?i?B/s\)\r\x1b\[\d+A\x1b\[J`,
		`\x1b\[Jossh: 3 hosts: 3 ok, 0 failed, 0 unreachable \(\d+\.\d s\)\r\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("no match for %q in:\n%q", re, s)
		}
	}
}

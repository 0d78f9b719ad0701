package openssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// sudoServer starts a server that logs in as the sudo test account and
// returns it with the account's password.
func sudoServer(t *testing.T) (*sshtest.Server, string) {
	sshtest.Require(t)
	user, pw := sshtest.SudoAccount(t)
	return sshtest.Start(t, sshtest.Config{User: user}), pw
}

// TestSudo: right password, the caller's stdin and pipes, stderr without
// sudo's prompt, Env through sudo, CombinedOutput, on both transports.
func TestSudo(t *testing.T) {
	srv, pw := sudoServer(t)
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := m.Sudo(ctx, pw, "id", "-un").Output()
		if err != nil || string(out) != "root\n" {
			t.Fatalf("sudo id -un: %q, %v", out, err)
		}
		// As another user.
		out, err = m.Command(ctx, "id", "-un").SetSudo(SudoOptions{Password: pw, User: "nobody"}).Output()
		if err != nil || string(out) != "nobody\n" {
			t.Errorf("sudo -u nobody id -un: %q, %v", out, err)
		}
		// The caller's stdin reaches the command, whole.
		in := bytes.Repeat([]byte("0123456789\n"), 20000)
		c := m.Sudo(ctx, pw, "cat")
		c.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err = c.Output()
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("sudo cat: %d bytes of %d, %v", len(out), len(in), err)
		}
		if stderr.Len() != 0 {
			t.Errorf("sudo's own output reached Stderr: %q", stderr.String())
		}
		// Pipes.
		c = m.Sudo(ctx, pw, "tr", "a-z", "A-Z")
		w, _ := c.StdinPipe()
		r, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "hello root\n")
		w.Close()
		got, _ := io.ReadAll(r)
		if err := c.Wait(); err != nil || string(got) != "HELLO ROOT\n" {
			t.Errorf("pipes through sudo: %q, %v", got, err)
		}
		// The remote stderr, a shell line, Env through env_reset.
		c = m.Sudo(ctx, pw, `echo "$GOOPENSSH_X" as $(id -un); echo oops >&2; exit 3`)
		c.Env = []string{"GOOPENSSH_X=kept"}
		stderr.Reset()
		c.Stderr = &stderr
		out, err = c.Output()
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 3 || string(out) != "kept as root\n" || stderr.String() != "oops\n" {
			t.Errorf("shell line: out %q stderr %q err %v", out, stderr.String(), err)
		}
		if errors.Is(err, ErrSudo) {
			t.Errorf("the command's own exit matches ErrSudo: %v", err)
		}
		// Cancelled: the root command is stopped too (sudo relays the
		// TERM that the library sends to the session's process group).
		cctx, ccancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		seen := make(chan int, 1)
		go func() { time.Sleep(1200 * time.Millisecond); seen <- procsWith("sleep 37.5") }()
		err = m.Sudo(cctx, pw, "sleep", "37.5").Run()
		ccancel()
		if n := <-seen; n == 0 {
			t.Error("the remote sleep was not seen running: the check below proves nothing")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled sudo sleep: %v, want DeadlineExceeded", err)
		}
		if n := procsWith("sleep 37.5"); n != 0 {
			t.Logf("%d remote sleep processes right after the cancel", n)
		}
		for i := 0; procsWith("sleep 37.5") > 0; i++ {
			if i > 100 {
				t.Error("the root command outlived the cancelled Cmd")
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		out, err = m.Sudo(ctx, pw, "sh", "-c", "echo out; echo err >&2").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "out\n") || !strings.Contains(string(out), "err\n") || strings.Contains(string(out), "sudo:") {
			t.Errorf("CombinedOutput: %q, %v", out, err)
		}
	})
}

// TestSudoWrongPassword: a wrong password is an authentication error,
// quickly; none at all when sudo asks is one too; bad options are refused.
func TestSudoWrongPassword(t *testing.T) {
	srv, _ := sudoServer(t)
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		t0 := time.Now()
		err := m.Sudo(ctx, "not-the-password", "touch", "/root/never").Run()
		if !errors.Is(err, ErrAuth) || !errors.Is(err, ErrSudo) {
			t.Fatalf("wrong password: %v, want ErrAuth and ErrSudo", err)
		}
		if d := time.Since(t0); d > 15*time.Second {
			t.Errorf("wrong password took %v", d)
		}
		if _, err := os.Stat("/root/never"); err == nil {
			t.Error("the command ran with a wrong password")
		}
		if err := m.Sudo(ctx, "", "true").Run(); !errors.Is(err, ErrAuth) {
			t.Errorf("no password: %v, want ErrAuth", err)
		}
		if err := m.Sudo(ctx, "x").Run(); !errors.Is(err, ErrInvalid) {
			t.Errorf("no command: %v, want ErrInvalid", err)
		}
		c := m.Sudo(ctx, "x", "true")
		c.Tty = true
		if err := c.Run(); !errors.Is(err, ErrInvalid) {
			t.Errorf("with a tty: %v, want ErrInvalid", err)
		}
	})
}

// TestSudoPasswordNowhere: while commands run through sudo, the password
// is in no process's argv or environment, and not in the library's log.
func TestSudoPasswordNowhere(t *testing.T) {
	srv, pw := sudoServer(t)
	var logBuf lockedBuffer
	o := testOptions(t, srv)
	o.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, tr := range testTransports(t) {
		o.Transport = tr
		m, _ := newTestMaster(t, srv, o)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errc := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- m.Sudo(ctx, pw, "sleep", "2").Run()
		}()
		deadline := time.Now().Add(1500 * time.Millisecond)
		scans := 0
		for time.Now().Before(deadline) {
			scans++
			procs, _ := filepath.Glob("/proc/[0-9]*")
			for _, p := range procs {
				for _, f := range []string{"cmdline", "environ"} {
					b, _ := os.ReadFile(filepath.Join(p, f))
					if bytes.Contains(b, []byte(pw)) {
						cl, _ := os.ReadFile(filepath.Join(p, "cmdline"))
						t.Errorf("%s: password in %s/%s (%q)", tr, p, f, bytes.ReplaceAll(cl, []byte{0}, []byte{' '}))
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		if err := <-errc; err != nil {
			t.Errorf("%s: sudo sleep: %v", tr, err)
		}
		m.Close()
		if scans < 3 {
			t.Errorf("only %d scans of /proc", scans)
		}
	}
	if bytes.Contains(logBuf.Bytes(), []byte(pw)) {
		t.Error("the password is in the library's log")
	}
	if !bytes.Contains(logBuf.Bytes(), []byte("sudo")) {
		t.Error("the log does not show the sudo commands: the check above proves nothing")
	}
}

// procsWith counts the processes of the machine (not only this program's
// children: sshd's too) whose command line contains needle.
func procsWith(needle string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), needle) {
			n++
		}
	}
	return n
}

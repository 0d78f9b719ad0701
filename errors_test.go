package openssh

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStderrKeptForErrors: a quoted command whose Stderr is nil keeps its
// standard error for the ExitError (no "2>/dev/null" on the remote line);
// only an explicit io.Discard discards it remotely.
func TestStderrKeptForErrors(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		check := func(name string, err error) {
			t.Helper()
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: %v, want an *ExitError", name, err)
			}
			if !strings.Contains(string(ee.Stderr), "No such file or directory") {
				t.Errorf("%s: Stderr = %q, want ls's message", name, ee.Stderr)
			}
			if !strings.Contains(err.Error(), "/nonexistent") || !strings.Contains(err.Error(), "No such file") {
				t.Errorf("%s: message %q does not say why", name, err)
			}
		}
		_, err := m.Capture(ctx, "ls", "/nonexistent")
		check("Capture", err)
		_, err = m.Command(ctx, "ls", "/nonexistent").Output()
		check("Output", err)
		check("Run", m.Command(ctx, "ls", "/nonexistent").Run())
		check("System", m.System(ctx, "ls", "/nonexistent"))

		c := m.Command(ctx, "ls", "/nonexistent")
		if s := c.String(); strings.Contains(s, "2>") {
			t.Errorf("nil Stderr: line %q redirects stderr", s)
		}
		c.Stderr = io.Discard
		if s := c.String(); !strings.Contains(s, ">/dev/null 2>&1") {
			t.Errorf("io.Discard: line %q does not discard stderr", s)
		}
		err = c.Run()
		var ee *ExitError
		if !errors.As(err, &ee) || len(ee.Stderr) != 0 {
			t.Errorf("io.Discard: %v, want an *ExitError without stderr", err)
		}
	})
}

// TestExitErrorExplains: scp and rsync print the cause first and a summary
// last; the message names the local program and keeps the cause.
func TestExitErrorExplains(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dir := xferDir(t)
		local := filepath.Join(dir, "f")
		if err := os.WriteFile(local, []byte("data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(dir, "no-such-file")
		// The remote account (never root) cannot write to /etc.
		ro := "/etc"
		cases := []struct {
			name string
			run  func() error
			want []string
		}{
			{"RsyncGet missing", func() error { return m.RsyncGet(ctx, []string{missing}, dir, nil) },
				[]string{"rsync exited 23 (partial transfer due to error)", "link_stat", missing, "No such file or directory"}},
			{"RsyncPut denied", func() error { return m.RsyncPut(ctx, []string{local}, ro+"/", nil) },
				[]string{"rsync exited", "Permission denied"}},
			{"ScpGet missing", func() error { return m.ScpGet(ctx, []string{missing}, dir, nil) },
				[]string{"scp exited 1", missing, "No such file or directory"}},
			{"ScpPut denied", func() error { return m.ScpPut(ctx, []string{local}, ro+"/f", nil) },
				[]string{"scp exited 1", "dest open", "Permission denied"}},
		}
		for _, tc := range cases {
			err := tc.run()
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Errorf("%s: %v, want an *ExitError", tc.name, err)
				continue
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: message %q lacks %q", tc.name, msg, w)
				}
			}
			if strings.Contains(msg, "remote command") {
				t.Errorf("%s: message %q calls a local program a remote command", tc.name, msg)
			}
		}
	})
}

func TestExplain(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"\n\n", ""},
		{"one\n", "one"},
		{"Warning: Permanently added 'h' (ED25519) to the list of known hosts.\r\nls: cannot access 'x'\n", "ls: cannot access 'x'"},
		{"a\nb\nc\n", "a; b; c"},
		{"rsync: link_stat \"/x\" failed: No such file\nfoo\nbar\nrsync error: partial (code 23)\n",
			"rsync: link_stat \"/x\" failed: No such file; ...; rsync error: partial (code 23)"},
		{"l1\nl2\nl3\nl4\n", "l1; ...; l4"},
		{"e1 error\ne2 error\ne3 error\nsummary\n", "e1 error; e2 error; ...; summary"},
		{long + "\n", long[:200] + "..."},
	} {
		if got := explain([]byte(tc.in)); got != tc.want {
			t.Errorf("explain(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestEmptyCommandRefused: an empty command is an *ArgError before
// anything runs, as exec.Command("") is, not the login shell.
func TestEmptyCommandRefused(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, args := range [][]string{{""}, {"  "}, {"", "x"}, {"\t"}} {
			var ae *ArgError
			err := m.Command(ctx, args...).Run()
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Run %q: %v, want an *ArgError", args, err)
			}
			if _, err := m.Capture(ctx, args...); !errors.As(err, &ae) {
				t.Errorf("Capture %q: %v, want an *ArgError", args, err)
			}
		}
		if out, err := m.Capture(ctx, "echo", ""); err != nil || string(out) != "\n" {
			t.Errorf("an empty argument after the command: %q %v", out, err)
		}
	})
}

// TestSFTPFileErrorsNamePaths: SFTPGetFile and SFTPPutFile errors are
// *os.PathErrors naming the side and the path, still fs.ErrNotExist for a
// missing file, and a done ctx stops them.
func TestSFTPFileErrorsNamePaths(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := m.SFTP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dir := xferDir(t)
		missing := filepath.Join(dir, "missing")
		local := filepath.Join(dir, "local")
		if err := os.WriteFile(local, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		check := func(name string, err error, path, op string, target error) {
			t.Helper()
			var pe *os.PathError
			if !errors.As(err, &pe) || pe.Path != path || !strings.Contains(pe.Op, op) || !errors.Is(err, target) {
				t.Errorf("%s: %v (%T), want a PathError %q on %s matching %v", name, err, err, op, path, target)
			}
		}
		check("get missing remote", SFTPGetFile(ctx, c, missing, filepath.Join(dir, "x"), nil), missing, "get: open remote", fs.ErrNotExist)
		check("get into missing local dir", SFTPGetFile(ctx, c, local, filepath.Join(missing, "x"), nil), filepath.Join(missing, "x"), "get: create local", fs.ErrNotExist)
		check("put missing local", SFTPPutFile(ctx, c, missing, filepath.Join(dir, "x"), nil), missing, "put: open local", fs.ErrNotExist)
		check("put into missing remote dir", SFTPPutFile(ctx, c, local, filepath.Join(missing, "x"), nil), filepath.Join(missing, "x"), "put: create remote", fs.ErrNotExist)
		done, stop := context.WithCancel(ctx)
		stop()
		check("get, ctx done", SFTPGetFile(done, c, local, filepath.Join(dir, "y"), nil), local, "get: open remote", context.Canceled)
		// Cancelled during the copy: the progress callback cancels.
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		err = SFTPGetFile(cctx, c, local, filepath.Join(dir, "z"), func(done, total int64) { ccancel() })
		check("get, ctx cancelled while copying", err, filepath.Join(dir, "z"), "get: write local", context.Canceled)
		cctx, ccancel = context.WithCancel(ctx)
		defer ccancel()
		err = SFTPPutFile(cctx, c, local, filepath.Join(dir, "w"), func(done, total int64) { ccancel() })
		check("put, ctx cancelled while copying", err, local, "put: read local", context.Canceled)
	})
}

// TestTunnelCloseTwice: a second Close of a tunnel conn returns
// net.ErrClosed, as net.Conns do.
func TestTunnelCloseTwice(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		c, err := m.Dial("tcp", echo.addr())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v, want net.ErrClosed", err)
		}
	})
}

package openssh

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

func TestRsyncNastyNames(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	ctx := t.Context()
	base := xferDir(t)
	src := mkdirShared(t, filepath.Join(base, "src"))
	up := mkdirShared(t, filepath.Join(base, "up dir $x"))
	down := mkdirShared(t, filepath.Join(base, "down"))
	paths := writeFiles(t, src, nastyNames, 3000)
	// A file a wildcard name would also match: it must not be copied.
	writeFiles(t, src, []string{"starAx"}, 10)
	if err := m.RsyncPut(ctx, paths, up, nil); err != nil {
		t.Fatalf("RsyncPut: %v", err)
	}
	checkFiles(t, up, nastyNames, 3000)
	writeFiles(t, up, []string{"starAx"}, 10)
	var remote []string
	for _, n := range nastyNames {
		remote = append(remote, filepath.Join(up, n))
	}
	if err := m.RsyncGet(ctx, remote, down, nil); err != nil {
		t.Fatalf("RsyncGet: %v", err)
	}
	checkFiles(t, down, nastyNames, 3000)
	for _, n := range nastyNames {
		one := mkdirShared(t, filepath.Join(base, "one"))
		back := mkdirShared(t, filepath.Join(base, "back"))
		writeFiles(t, one, []string{"starAx-t"}, 10)
		if err := m.RsyncPut(ctx, []string{filepath.Join(src, n)}, filepath.Join(one, n+"-t"), nil); err != nil {
			t.Fatalf("RsyncPut to %q: %v", n+"-t", err)
		}
		b, _ := os.ReadFile(filepath.Join(one, n+"-t"))
		if !bytes.Equal(b, content(n, 3000)) {
			t.Errorf("RsyncPut to %q: wrong contents", n+"-t")
		}
		if err := m.RsyncGet(ctx, []string{filepath.Join(one, n+"-t")}, filepath.Join(back, n), nil); err != nil {
			t.Fatalf("RsyncGet of %q: %v", n+"-t", err)
		}
		checkFiles(t, back, []string{n}, 3000)
		os.RemoveAll(one)
		os.RemoveAll(back)
	}
}

func TestRsyncFlagsTranslation(t *testing.T) {
	got, err := rsyncFlags(map[string]any{
		"times":       false,
		"no_perms":    true,
		"no-owner":    false,
		"safe_links":  true,
		"exclude":     []string{"*~", "a b"},
		"max_size":    "10m",
		"timeout":     30,
		"chmod":       "u+rw",
		"partial_dir": ".p",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--chmod=u+rw", "--exclude=*~", "--exclude=a b", "--max-size=10m", "--owner", "--no-perms", "--partial-dir=.p", "--safe-links", "--timeout=30", "--no-times"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for _, bad := range []map[string]any{
		{"rsh": "ssh"}, {"port": 22}, {"no_rsh": true}, {"protect_args": true}, {"old_args": true},
		{"ipv6": true}, {"daemon": true}, {"no-exclude": true}, {"exclude": true}, {"--x": true},
		{"a b": true}, {"links": 1.5}, {"no_links": "x"}, {"filter": "a\x00b"},
	} {
		if _, err := rsyncFlags(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: %v, want an *ArgError", bad, err)
		}
	}
}

func TestRsyncTransportQuote(t *testing.T) {
	for in, want := range map[string]string{
		"ssh": "ssh", "a b": "'a b'", "a'b": "'a''b'", `a"b`: `'a"b'`, "": "''", "/x/y%h": "/x/y%h",
	} {
		if got := rsyncQuote(in); got != want {
			t.Errorf("rsyncQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRsyncOptionsAndErrors(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	ctx := t.Context()
	base := xferDir(t)
	src := mkdirShared(t, filepath.Join(base, "src dir"))
	writeFiles(t, src, []string{"a 1.txt", "a 2.txt", "b.dat", "skip~"}, 100)
	sub := mkdirShared(t, filepath.Join(src, "sub"))
	writeFiles(t, sub, []string{"x"}, 10)
	os.Chmod(filepath.Join(sub, "x"), 0o751)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(sub, "x"), old, old)

	// Glob get.
	down := mkdirShared(t, filepath.Join(base, "down"))
	if err := m.RsyncGet(ctx, []string{filepath.Join(src, "a *.txt")}, down, &RsyncOpts{Glob: true}); err != nil {
		t.Fatalf("glob RsyncGet: %v", err)
	}
	checkFiles(t, down, []string{"a 1.txt", "a 2.txt"}, 100)
	// Glob put.
	gup := mkdirShared(t, filepath.Join(base, "gup"))
	if err := m.RsyncPut(ctx, []string{filepath.Join(src, "*.dat")}, gup, &RsyncOpts{Glob: true}); err != nil {
		t.Fatalf("glob RsyncPut: %v", err)
	}
	checkFiles(t, gup, []string{"b.dat"}, 100)

	// Recursive put and get with attributes, an exclude, verbose output.
	rup := mkdirShared(t, filepath.Join(base, "rup"))
	var out strings.Builder
	err := m.RsyncPut(ctx, []string{src}, rup, &RsyncOpts{Recursive: true, CopyAttrs: true, Verbose: 1, Stdout: &out,
		Flags: map[string]any{"exclude": "*~", "safe_links": true}})
	if err != nil {
		t.Fatalf("recursive RsyncPut: %v", err)
	}
	if !strings.Contains(out.String(), "sub/x") {
		t.Errorf("verbose output lacks sub/x: %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(rup, "src dir", "skip~")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("excluded file was copied: %v", err)
	}
	rdown := mkdirShared(t, filepath.Join(base, "rdown"))
	if err := m.RsyncGet(ctx, []string{filepath.Join(rup, "src dir")}, rdown, &RsyncOpts{Recursive: true, CopyAttrs: true}); err != nil {
		t.Fatalf("recursive RsyncGet: %v", err)
	}
	for _, d := range []string{filepath.Join(rup, "src dir"), filepath.Join(rdown, "src dir")} {
		checkAttrs(t, filepath.Join(d, "sub", "x"), 0o751, old)
	}

	// A missing file: exit code 23 with its meaning, and rsync's message.
	missing := filepath.Join(base, "no such file")
	err = m.RsyncGet(ctx, []string{missing}, down, nil)
	var xe *ExitError
	if !errors.As(err, &xe) || !errors.Is(err, ErrCmdFailed) || xe.Code != 23 {
		t.Fatalf("missing file: %v, want an *ExitError with code 23", err)
	}
	if xe.Msg != "partial transfer due to error" || xe.Program != "rsync" || !strings.Contains(string(xe.Stderr), missing) {
		t.Errorf("missing file: Msg %q, stderr %q", xe.Msg, xe.Stderr)
	}
	// A remote glob that matches nothing.
	err = m.RsyncGet(ctx, []string{filepath.Join(src, "zz*")}, down, &RsyncOpts{Glob: true})
	if !errors.As(err, &xe) || !strings.Contains(string(xe.Stderr), "zz*") {
		t.Errorf("glob matching nothing: %v", err)
	}
	// A usage error: code 1.
	err = m.RsyncGet(ctx, []string{missing}, down, &RsyncOpts{Flags: map[string]any{"no_such_option_x": true}})
	if !errors.As(err, &xe) || xe.Code != 1 || !strings.Contains(err.Error(), "syntax or usage error") {
		t.Errorf("bad option: %v, want code 1 with its meaning", err)
	}

	// Forbidden options and bad input: *ArgError before anything runs.
	before := sshtest.CountProcesses("rsync")
	for _, c := range []struct {
		name string
		err  error
	}{
		{"rsh", m.RsyncGet(ctx, []string{"x"}, down, &RsyncOpts{Flags: map[string]any{"rsh": "ssh"}})},
		{"no_port", m.RsyncPut(ctx, []string{src}, "x", &RsyncOpts{Flags: map[string]any{"no_port": true}})},
		{"verbose", m.RsyncPut(ctx, []string{src}, "x", &RsyncOpts{Verbose: -1})},
		{"nul", m.RsyncGet(ctx, []string{"a\x00"}, down, nil)},
		{"glob", m.RsyncPut(ctx, []string{filepath.Join(base, "none*")}, "x", &RsyncOpts{Glob: true})},
	} {
		var ae *ArgError
		if !errors.As(c.err, &ae) || !errors.Is(c.err, ErrInvalid) {
			t.Errorf("%s: %v, want an *ArgError", c.name, c.err)
		}
	}
	if n := sshtest.CountProcesses("rsync"); n != before {
		t.Errorf("rsync processes ran for refused options")
	}
}

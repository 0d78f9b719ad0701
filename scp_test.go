package openssh

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// nastyNames are file names that break naive quoting: spaces, both quotes,
// "+", glob characters, "$", a newline, a backslash and bytes that are not
// UTF-8.
var nastyNames = []string{
	"with space",
	`quo'te"s`,
	"plus+1",
	"star*x",
	"dollar$HOME",
	"new\nline",
	"non-ascii-\xff\xfe-é",
	`back\slash [x]?`,
}

// xferDir returns a temporary directory that the remote user (another
// account on this machine) can read and write.
func xferDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "xfer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// mkdirShared makes a subdirectory the remote user can write.
func mkdirShared(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o777); err != nil {
		t.Fatal(err)
	}
	return p
}

// content returns distinct bytes for a file name, including NULs and
// every byte value.
func content(name string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + len(name)*13 + int(name[0]))
	}
	return append([]byte(name+"\n"), b...)
}

// writeFiles writes one file per name in dir, readable by everyone, and
// returns their paths.
func writeFiles(t *testing.T, dir string, names []string, size int) []string {
	t.Helper()
	var ps []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, content(n, size), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o644)
		ps = append(ps, p)
	}
	return ps
}

// checkFiles checks that dir holds exactly the names, with their contents.
func checkFiles(t *testing.T, dir string, names []string, size int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := slices.Clone(names)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%s holds %q, want %q", dir, got, want)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, content(n, size)) {
			t.Errorf("%q: contents differ (%d bytes, want %d)", n, len(b), len(content(n, size)))
		}
	}
}

func TestScpNastyNames(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	noNewline := slices.DeleteFunc(slices.Clone(nastyNames), func(s string) bool { return strings.Contains(s, "\n") })
	for _, mode := range []struct {
		name  string
		opts  ScpOpts
		names []string // for copies that keep the source's base name
	}{
		{"sftp", ScpOpts{}, nastyNames},
		// The legacy protocol sends the base name of each file on a line:
		// scp turns a newline in it into "\^J", so the library refuses such
		// names (below); a newline in a put's target name goes through.
		{"legacy", ScpOpts{Legacy: true}, noNewline},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := t.Context()
			base := xferDir(t)
			src := mkdirShared(t, filepath.Join(base, "src"))
			up := mkdirShared(t, filepath.Join(base, "up dir $x"))
			down := mkdirShared(t, filepath.Join(base, "down"))
			paths := writeFiles(t, src, mode.names, 3000)
			writeFiles(t, src, nastyNames, 3000)
			o := mode.opts
			// Several sources into a directory, one argument each.
			if err := m.ScpPut(ctx, paths, up, &o); err != nil {
				t.Fatalf("ScpPut: %v", err)
			}
			checkFiles(t, up, mode.names, 3000)
			var remote []string
			for _, n := range mode.names {
				remote = append(remote, filepath.Join(up, n))
			}
			if err := m.ScpGet(ctx, remote, down, &o); err != nil {
				t.Fatalf("ScpGet: %v", err)
			}
			checkFiles(t, down, mode.names, 3000)
			// One file to a nasty target name each way.
			for _, n := range nastyNames {
				one := mkdirShared(t, filepath.Join(base, "one"))
				back := mkdirShared(t, filepath.Join(base, "back"))
				if mode.opts.Legacy && strings.Contains(n, "\n") {
					err := m.ScpPut(ctx, []string{filepath.Join(src, n)}, one, &o)
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("legacy put of %q: %v, want ErrInvalid", n, err)
					}
					err = m.ScpGet(ctx, []string{filepath.Join(src, n)}, back, &o)
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("legacy get of %q: %v, want ErrInvalid", n, err)
					}
					if err := m.ScpPut(ctx, []string{paths[0]}, filepath.Join(one, n), &o); err != nil {
						t.Fatalf("ScpPut to %q: %v", n, err)
					}
					b, err := os.ReadFile(filepath.Join(one, n))
					if err != nil || !bytes.Equal(b, content(nastyNames[0], 3000)) {
						t.Errorf("legacy put to %q: %v", n, err)
					}
					os.RemoveAll(one)
					os.RemoveAll(back)
					continue
				}
				if err := m.ScpPut(ctx, []string{filepath.Join(src, n)}, filepath.Join(one, n+"-t"), &o); err != nil {
					t.Fatalf("ScpPut to %q: %v", n+"-t", err)
				}
				if err := m.ScpGet(ctx, []string{filepath.Join(one, n+"-t")}, filepath.Join(back, n), &o); err != nil {
					t.Fatalf("ScpGet of %q: %v", n+"-t", err)
				}
				checkFiles(t, back, []string{n}, 3000)
				os.RemoveAll(one)
				os.RemoveAll(back)
			}
		})
	}
}

func TestScpGlobRecursiveAttrs(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	ctx := t.Context()
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprint("legacy=", legacy), func(t *testing.T) {
			base := xferDir(t)
			src := mkdirShared(t, filepath.Join(base, "src dir"))
			writeFiles(t, src, []string{"a 1.txt", "a 2.txt", "b.dat", "star*x"}, 100)
			// Glob get: only the *.txt files.
			down := mkdirShared(t, filepath.Join(base, "down"))
			if err := m.ScpGet(ctx, []string{filepath.Join(src, "a *.txt")}, down, &ScpOpts{Glob: true, Legacy: legacy}); err != nil {
				t.Fatalf("glob ScpGet: %v", err)
			}
			checkFiles(t, down, []string{"a 1.txt", "a 2.txt"}, 100)
			// Without Glob, "*" is a literal character.
			lit := mkdirShared(t, filepath.Join(base, "lit"))
			if err := m.ScpGet(ctx, []string{filepath.Join(src, "star*x")}, lit, &ScpOpts{Legacy: legacy}); err != nil {
				t.Fatalf("literal ScpGet: %v", err)
			}
			checkFiles(t, lit, []string{"star*x"}, 100)
			// A remote glob that matches nothing is an error naming it.
			err := m.ScpGet(ctx, []string{filepath.Join(src, "zz*")}, down, &ScpOpts{Glob: true, Legacy: legacy})
			var xe *ExitError
			if !errors.As(err, &xe) || !errors.Is(err, ErrCmdFailed) || !strings.Contains(err.Error(), "zz") {
				t.Errorf("glob matching nothing: %v, want an *ExitError naming zz*", err)
			}
			// Glob put: local expansion.
			gup := mkdirShared(t, filepath.Join(base, "gup"))
			if err := m.ScpPut(ctx, []string{filepath.Join(src, "a *.txt"), filepath.Join(src, "b.*")}, gup, &ScpOpts{Glob: true, Legacy: legacy}); err != nil {
				t.Fatalf("glob ScpPut: %v", err)
			}
			checkFiles(t, gup, []string{"a 1.txt", "a 2.txt", "b.dat"}, 100)

			// Recursive with attributes.
			tree := mkdirShared(t, filepath.Join(base, "tree"))
			sub := mkdirShared(t, filepath.Join(tree, "sub dir"))
			os.Chmod(sub, 0o755) // SFTP-mode scp applies the local umask to directories
			writeFiles(t, sub, []string{"x"}, 10)
			writeFiles(t, tree, []string{"y"}, 20)
			os.Chmod(filepath.Join(sub, "x"), 0o751)
			os.Chmod(filepath.Join(tree, "y"), 0o604)
			old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			for _, p := range []string{filepath.Join(sub, "x"), filepath.Join(tree, "y"), sub} {
				os.Chtimes(p, old, old)
			}
			rup := mkdirShared(t, filepath.Join(base, "rup"))
			if err := m.ScpPut(ctx, []string{tree}, rup, &ScpOpts{Recursive: true, CopyAttrs: true, Legacy: legacy}); err != nil {
				t.Fatalf("recursive ScpPut: %v", err)
			}
			rdown := mkdirShared(t, filepath.Join(base, "rdown"))
			if err := m.ScpGet(ctx, []string{filepath.Join(rup, "tree")}, rdown, &ScpOpts{Recursive: true, CopyAttrs: true, Legacy: legacy}); err != nil {
				t.Fatalf("recursive ScpGet: %v", err)
			}
			for _, d := range []string{filepath.Join(rup, "tree"), filepath.Join(rdown, "tree")} {
				checkAttrs(t, filepath.Join(d, "sub dir", "x"), 0o751, old)
				checkAttrs(t, filepath.Join(d, "y"), 0o604, old)
				checkAttrs(t, filepath.Join(d, "sub dir"), os.ModeDir|0o755, old)
			}
		})
	}
}

// checkAttrs checks a file's mode and modification time.
func checkAttrs(t *testing.T, p string, mode os.FileMode, mtime time.Time) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", p, st.Mode(), mode)
	}
	if !st.ModTime().Equal(mtime) {
		t.Errorf("%s: mtime %v, want %v", p, st.ModTime(), mtime)
	}
}

func TestScpErrors(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	ctx := t.Context()
	base := xferDir(t)
	for _, legacy := range []bool{false, true} {
		missing := filepath.Join(base, "no such file")
		err := m.ScpGet(ctx, []string{missing}, base, &ScpOpts{Legacy: legacy})
		var xe *ExitError
		if !errors.As(err, &xe) || !errors.Is(err, ErrCmdFailed) {
			t.Fatalf("legacy=%v: missing file: %v, want an *ExitError", legacy, err)
		}
		if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "No such file") {
			t.Errorf("legacy=%v: error %q does not name %q", legacy, err, missing)
		}
	}
	// Bad input is refused before anything runs.
	for _, c := range []struct {
		name string
		err  error
	}{
		{"nul", m.ScpGet(ctx, []string{"a\x00b"}, base, nil)},
		{"no sources", m.ScpGet(ctx, nil, base, nil)},
		{"no local sources", m.ScpPut(ctx, nil, "x", nil)},
		{"glob no match", m.ScpPut(ctx, []string{filepath.Join(base, "nothing*")}, "x", &ScpOpts{Glob: true})},
		{"bwlimit", m.ScpPut(ctx, []string{base}, "x", &ScpOpts{BWLimit: -1})},
	} {
		var ae *ArgError
		if !errors.As(c.err, &ae) || !errors.Is(c.err, ErrInvalid) {
			t.Errorf("%s: %v, want an *ArgError", c.name, c.err)
		}
	}
	// A timeout kills scp.
	src := writeFiles(t, base, []string{"big"}, 4<<20)
	start := time.Now()
	err := m.ScpPut(ctx, src, filepath.Join(base, "big2"), &ScpOpts{BWLimit: 100, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("timeout: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestScpAsyncManyHostsProgress(t *testing.T) {
	checkNoLeaks(t)
	var ms []*Master
	for range 3 {
		m, _ := newTestMaster(t, nil, nil)
		ms = append(ms, m)
	}
	base := xferDir(t)
	src := writeFiles(t, base, []string{"payload"}, 1<<20)
	var mu sync.Mutex
	var last [3][2]int64
	var ts []*Transfer
	for i, m := range ms {
		dst := filepath.Join(base, fmt.Sprint("copy", i))
		remote := dst
		if i == 2 {
			remote = filepath.Join(base, "missing dir", "x") // fails
		}
		tr, err := m.ScpPutAsync(t.Context(), src, remote, &ScpOpts{Progress: func(done, total int64) {
			mu.Lock()
			last[i] = [2]int64{done, total}
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tr)
	}
	for i, tr := range ts {
		err := tr.Wait()
		if i < 2 && err != nil {
			t.Errorf("host %d: %v", i, err)
		}
		if i == 2 && !errors.Is(err, ErrCmdFailed) {
			t.Errorf("host %d: %v, want ErrCmdFailed", i, err)
		}
	}
	size := int64(len(content("payload", 1<<20)))
	if last[0] != [2]int64{size, size} {
		t.Errorf("last progress %v, want %d/%d", last[0], size, size)
	}
	// Get with progress polls the destination.
	var calls int
	var fin [2]int64
	dst := filepath.Join(base, "got")
	err := ms[0].ScpGet(t.Context(), []string{src[0]}, dst, &ScpOpts{Progress: func(done, total int64) {
		calls++
		fin = [2]int64{done, total}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || fin != [2]int64{size, size} {
		t.Errorf("get progress: %d calls, last %v", calls, fin)
	}
}

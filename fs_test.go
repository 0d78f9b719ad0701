package openssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"text/template"
	"time"
)

// fsTree makes a small tree of files, directories and a symbolic link
// under a directory the test account can read.
func fsTree(t *testing.T) string {
	dir := sharedDir(t)
	files := map[string]string{
		"a.txt":              "alpha\n",
		"b/c.txt":            "charlie\n",
		"b/d/e.tmpl":         "hello {{.}}\n",
		"b/d/empty":          "",
		"z/deep/er/f.bin":    strings.Repeat("\x00\xff", 1500),
		"sp ace/q'uote\".md": "odd name\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// walkList describes a walk: path, kind, size of regular files.
func walkList(t *testing.T, fsys fs.FS, root string) []string {
	var out []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size := int64(-1)
		if info.Mode().IsRegular() {
			size = info.Size()
		}
		out = append(out, fmt.Sprintf("%s %v %s %d", p, d.IsDir(), info.Mode().Type(), size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRemoteFS: fs.WalkDir over the remote tree equals the local walk,
// fstest.TestFS passes, template.ParseFS and http.FileServerFS work.
func TestRemoteFS(t *testing.T) {
	dir := fsTree(t)
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rfs, err := m.FS(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer rfs.Close()

		local := walkList(t, os.DirFS(dir), ".")
		remote := walkList(t, rfs, ".")
		if strings.Join(local, "\n") != strings.Join(remote, "\n") {
			t.Errorf("remote walk differs:\nlocal:\n%s\nremote:\n%s", strings.Join(local, "\n"), strings.Join(remote, "\n"))
		}
		if err := fstest.TestFS(rfs, "a.txt", "b/c.txt", "b/d/e.tmpl", "b/d/empty", "z/deep/er/f.bin", "sp ace/q'uote\".md", "link", "emptydir"); err != nil {
			t.Error(err)
		}

		tmpl, err := template.ParseFS(rfs, "b/d/*.tmpl")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, "world"); err != nil || buf.String() != "hello world\n" {
			t.Errorf("template from the remote FS: %q, %v", buf.String(), err)
		}

		rec := httptest.NewRecorder()
		http.FileServerFS(rfs).ServeHTTP(rec, httptest.NewRequest("GET", "/b/c.txt", nil))
		if rec.Code != 200 || rec.Body.String() != "charlie\n" {
			t.Errorf("http.FileServerFS: %d %q", rec.Code, rec.Body.String())
		}
		rec = httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/z/deep/er/f.bin", nil)
		req.Header.Set("Range", "bytes=1-4")
		http.FileServerFS(rfs).ServeHTTP(rec, req)
		if rec.Code != 206 || rec.Body.String() != "\xff\x00\xff\x00" {
			t.Errorf("ranged GET: %d %q", rec.Code, rec.Body.String())
		}

		if _, err := rfs.Stat("nope/x"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat of a missing file: %v, want fs.ErrNotExist", err)
		}
		var pe *fs.PathError
		if _, err := rfs.Open("../etc/passwd"); !errors.As(err, &pe) || !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(../etc/passwd): %v, want a PathError with fs.ErrInvalid", err)
		}
		sub, err := fs.Sub(rfs, "b")
		if err != nil {
			t.Fatal(err)
		}
		if b, err := fs.ReadFile(sub, "d/e.tmpl"); err != nil || string(b) != "hello {{.}}\n" {
			t.Errorf("Sub: %q, %v", b, err)
		}

		if _, err := m.FS(ctx, filepath.Join(dir, "a.txt")); !errors.Is(err, ErrSFTPFailed) {
			t.Errorf("FS on a file: %v, want ErrSFTPFailed", err)
		}
	})
}

// TestReadWriteFile: Master.ReadFile and WriteFile stream to and from
// io.Writer and io.Reader; errors are typed.
func TestReadWriteFile(t *testing.T) {
	dir := sharedDir(t)
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		body := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB
		p := filepath.Join(dir, "w-"+m.opts.Transport.String())
		n, err := m.WriteFile(ctx, p, bytes.NewReader(body), 0o640)
		if err != nil || n != int64(len(body)) {
			t.Fatalf("WriteFile: %d, %v", n, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("file written: %d bytes, %v", len(got), err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, want 0640", fi.Mode().Perm())
		}
		// Overwrite: truncated, mode kept.
		if _, err := m.WriteFile(ctx, p, strings.NewReader("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(p); fi.Size() != 5 || fi.Mode().Perm() != 0o640 {
			t.Errorf("after overwrite: size %d mode %v, want 5 and 0640", fi.Size(), fi.Mode().Perm())
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err = m.ReadFile(ctx, p, &buf)
		if err != nil || n != int64(len(body)) || !bytes.Equal(buf.Bytes(), body) {
			t.Fatalf("ReadFile: %d, %v (equal: %v)", n, err, bytes.Equal(buf.Bytes(), body))
		}
		_, err = m.ReadFile(ctx, filepath.Join(dir, "missing"), io.Discard)
		if !errors.Is(err, ErrSFTPFailed) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile of a missing file: %v, want ErrSFTPFailed and fs.ErrNotExist", err)
		}
		_, err = m.WriteFile(ctx, "/proc/nope/x", strings.NewReader("x"), 0o644)
		if !errors.Is(err, ErrSFTPFailed) {
			t.Errorf("WriteFile where it cannot: %v, want ErrSFTPFailed", err)
		}
		if _, err := m.ReadFile(ctx, "", io.Discard); !errors.Is(err, ErrInvalid) {
			t.Errorf("ReadFile(\"\"): %v, want ErrInvalid", err)
		}
	})
}

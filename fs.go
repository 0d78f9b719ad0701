package openssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/pkg/sftp"
)

// RemoteFS is a remote directory tree as an [io/fs.FS], read over one SFTP
// session ([Master.FS]). It implements [fs.ReadFileFS], [fs.ReadDirFS],
// [fs.StatFS] and [fs.SubFS], so [fs.WalkDir], [fs.Glob],
// [html/template.ParseFS] and [net/http.FileServerFS] work on it. Files it
// opens implement [io.Seeker] and [io.ReaderAt]; directories implement
// [fs.ReadDirFile].
//
// Names follow [fs.ValidPath] and are relative to the root given to
// Master.FS; symbolic links are followed (Stat), except in directory
// listings, which describe the links themselves, as [os.ReadDir] does.
// Errors are [*fs.PathError]s naming the fs name; a missing file matches
// [fs.ErrNotExist] and a refused one [fs.ErrPermission].
//
// A RemoteFS is safe for concurrent use. Close it to end its session.
type RemoteFS struct {
	c    *sftp.Client
	root string
}

// FS opens an SFTP session and returns the remote tree under root as an
// [io/fs.FS]. root is a remote path; "" or "." is the login directory.
// ctx bounds only the start. The session counts against
// Options.MaxSessions until [RemoteFS.Close].
func (m *Master) FS(ctx context.Context, root string) (*RemoteFS, error) {
	if err := checkArgs("root", []string{root}); err != nil {
		return nil, err
	}
	c, err := m.SFTP(ctx)
	if err != nil {
		return nil, err
	}
	if root == "" {
		root = "."
	}
	fi, err := c.Stat(root)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		c.Close()
		return nil, &Error{Code: CodeSFTPFailed, Op: "fs", Host: m.host, Err: &fs.PathError{Op: "stat", Path: root, Err: err}}
	}
	return &RemoteFS{c: c, root: root}, nil
}

// Client returns the SFTP client under f, for what io/fs cannot express
// (writing, renaming, symbolic links).
func (f *RemoteFS) Client() *sftp.Client { return f.c }

// Close ends the SFTP session.
func (f *RemoteFS) Close() error { return f.c.Close() }

// remote maps an fs name to a remote path, or fails with fs.ErrInvalid.
func (f *RemoteFS) remote(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return f.root, nil
	}
	return path.Join(f.root, name), nil
}

// pathErr wraps an SFTP error as an *fs.PathError on name, mapping the
// SFTP status codes to the io/fs sentinels.
func pathErr(op, name string, err error) error {
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.FxCode() {
		case sftp.ErrSSHFxNoSuchFile:
			err = fs.ErrNotExist
		case sftp.ErrSSHFxPermissionDenied:
			err = fs.ErrPermission
		}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Open opens the named file or directory for reading.
func (f *RemoteFS) Open(name string) (fs.File, error) {
	p, err := f.remote("open", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.c.Stat(p)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if fi.IsDir() {
		return &remoteDir{fs: f, name: name, path: p, info: renamed{fi, path.Base(name)}}, nil
	}
	h, err := f.c.Open(p)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &remoteFile{File: h, name: name, info: renamed{fi, path.Base(name)}}, nil
}

// Stat returns the named file's FileInfo, following symbolic links.
func (f *RemoteFS) Stat(name string) (fs.FileInfo, error) {
	p, err := f.remote("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.c.Stat(p)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return renamed{fi, path.Base(name)}, nil
}

// ReadFile reads the named file whole.
func (f *RemoteFS) ReadFile(name string) ([]byte, error) {
	p, err := f.remote("read", name)
	if err != nil {
		return nil, err
	}
	h, err := f.c.Open(p)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	defer h.Close()
	var b bytes.Buffer
	if fi, err := h.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<30 {
		b.Grow(int(fi.Size()))
	}
	if _, err := h.WriteTo(&b); err != nil {
		return nil, pathErr("read", name, err)
	}
	return b.Bytes(), nil
}

// ReadDir lists the named directory, sorted by name.
func (f *RemoteFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := f.remote("readdir", name)
	if err != nil {
		return nil, err
	}
	return f.readDir(name, p)
}

func (f *RemoteFS) readDir(name, p string) ([]fs.DirEntry, error) {
	infos, err := f.c.ReadDir(p)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	ents := make([]fs.DirEntry, 0, len(infos))
	for _, fi := range infos {
		if n := fi.Name(); n == "." || n == ".." {
			continue
		}
		ents = append(ents, fs.FileInfoToDirEntry(fi))
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// Sub returns the tree under dir as a RemoteFS sharing f's session (closing
// either closes both).
func (f *RemoteFS) Sub(dir string) (fs.FS, error) {
	p, err := f.remote("sub", dir)
	if err != nil {
		return nil, err
	}
	if dir == "." {
		return f, nil
	}
	return &RemoteFS{c: f.c, root: p}, nil
}

// renamed is a FileInfo carrying the fs name's base (SFTP names the root
// "." or by its remote path).
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// remoteFile is a regular file opened by RemoteFS.Open.
type remoteFile struct {
	*sftp.File
	name string
	info fs.FileInfo
}

func (r *remoteFile) Stat() (fs.FileInfo, error) { return r.info, nil }

func (r *remoteFile) Read(p []byte) (int, error) {
	n, err := r.File.Read(p)
	if err != nil && err != io.EOF {
		err = pathErr("read", r.name, err)
	}
	return n, err
}

// remoteDir is a directory opened by RemoteFS.Open; it is listed on the
// first ReadDir.
type remoteDir struct {
	fs     *RemoteFS
	name   string
	path   string
	info   fs.FileInfo
	ents   []fs.DirEntry
	listed bool
	closed bool
}

func (d *remoteDir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *remoteDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *remoteDir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.name, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}

// ReadDir returns the next n entries (all of them when n <= 0), as
// [fs.ReadDirFile] says.
func (d *remoteDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: fs.ErrClosed}
	}
	if !d.listed {
		ents, err := d.fs.readDir(d.name, d.path)
		if err != nil {
			return nil, err
		}
		d.ents, d.listed = ents, true
	}
	if n <= 0 {
		ents := d.ents
		d.ents = nil
		return ents, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	ents := d.ents[:n:n]
	d.ents = d.ents[n:]
	return ents, nil
}

// ReadFile copies the remote file remote to w over a new SFTP session
// (Net::SSH2's scp_get to a handle) and returns the number of bytes
// copied. ctx bounds the whole transfer: when it ends, the session is
// ended and the copy fails. Errors are [*Error]s matching [ErrSFTPFailed];
// a missing file also matches [fs.ErrNotExist].
func (m *Master) ReadFile(ctx context.Context, remote string, w io.Writer) (int64, error) {
	var n int64
	err := m.withSFTP(ctx, "read file", remote, func(c *sftp.Client) error {
		h, err := c.Open(remote)
		if err != nil {
			return pathErr("open", remote, err)
		}
		defer h.Close()
		n, err = h.WriteTo(w)
		if err != nil {
			return pathErr("read", remote, err)
		}
		return nil
	})
	return n, err
}

// WriteFile copies r to the remote file remote over a new SFTP session,
// creating it with mode perm (exactly: the remote umask does not apply)
// or truncating it, as [os.WriteFile] does, and returns the number of bytes written. ctx bounds
// the whole transfer. On error the remote file may hold part of the data.
// Errors are [*Error]s matching [ErrSFTPFailed].
func (m *Master) WriteFile(ctx context.Context, remote string, r io.Reader, perm fs.FileMode) (int64, error) {
	var n int64
	err := m.withSFTP(ctx, "write file", remote, func(c *sftp.Client) error {
		_, statErr := c.Lstat(remote)
		h, err := c.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
		if err != nil {
			return pathErr("open", remote, err)
		}
		if errors.Is(pathErr("", "", statErr), fs.ErrNotExist) {
			// Created now: give it perm (SFTP created it 0666 less
			// the server's umask, which SFTP does not show).
			if err := h.Chmod(perm); err != nil {
				h.Close()
				return pathErr("chmod", remote, err)
			}
		}
		n, err = h.ReadFrom(r)
		if cerr := h.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return pathErr("write", remote, err)
		}
		return nil
	})
	return n, err
}

// withSFTP runs fn with an SFTP client on a session of its own, ended when
// fn returns or ctx ends.
func (m *Master) withSFTP(ctx context.Context, op, remote string, fn func(*sftp.Client) error) error {
	if err := checkArgs("remote", []string{remote}); err != nil {
		return err
	}
	if remote == "" {
		return &ArgError{Arg: "remote", Reason: "empty file name"}
	}
	c, err := m.SFTP(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = fn(c)
	stop()
	c.Close()
	if ctx.Err() != nil {
		return ctxError(ctx.Err(), op, m.host)
	}
	if err != nil {
		return &Error{Code: CodeSFTPFailed, Op: op, Host: m.host, Err: err}
	}
	return nil
}

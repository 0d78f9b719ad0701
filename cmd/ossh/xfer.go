package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/parallel"
	"github.com/pkg/sftp"
)

// sftpPut returns the action of ossh put over SFTP: local is copied to
// remote on each host (into it, under its base name, when remote is a
// directory), reporting the bytes sent to m. A file it creates gets the
// local file's permissions without group and other write.
func sftpPut(local, remote string, m *meter) parallel.Action {
	return parallel.SFTP(func(ctx context.Context, label string, c *sftp.Client) error {
		src := parallel.ExpandLabel(local, label)
		dst := parallel.ExpandLabel(remote, label)
		if st, err := c.Stat(dst); err == nil && st.IsDir() {
			dst = path.Join(dst, filepath.Base(src))
		}
		_, err := c.Stat(dst)
		created := err != nil
		lst, err := os.Stat(src)
		if err != nil {
			return err
		}
		// The error is an *os.PathError naming the side and the path.
		if err := openssh.SFTPPutFile(ctx, c, src, dst, func(done, total int64) { m.update(label, done, total) }); err != nil {
			return err
		}
		if created {
			// As scp does: a new file gets the local file's permissions
			// (less the group and other write bits, the usual umask).
			if err := c.Chmod(dst, lst.Mode().Perm()&^0o022); err != nil {
				return fmt.Errorf("sftp put %s to %s: chmod: %w", src, dst, err)
			}
		}
		return nil
	})
}

// sftpGet returns the action of ossh get over SFTP: remote is copied from
// each host to localDir/<label>/<base name of remote>, reporting the bytes
// received to m. A local file the copy created is removed when it fails.
func sftpGet(remote, localDir string, m *meter) parallel.Action {
	return parallel.SFTP(func(ctx context.Context, label string, c *sftp.Client) error {
		src := parallel.ExpandLabel(remote, label)
		dst := filepath.Join(parallel.ExpandLabel(localDir, label), label, path.Base(src))
		if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
			return err
		}
		_, err := os.Lstat(dst)
		created := errors.Is(err, fs.ErrNotExist)
		err = openssh.SFTPGetFile(ctx, c, src, dst, func(done, total int64) { m.update(label, done, total) })
		if err != nil {
			if created {
				os.Remove(dst)
			}
			return err
		}
		return nil
	})
}

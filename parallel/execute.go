package parallel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goopenssh/openssh"
)

// do runs one action.
func (r *Runner) do(ctx context.Context, h *host, m *openssh.Master, a *Action) error {
	switch a.kind {
	case kFunc:
		return a.fn(ctx, h.label, m)
	case kLocal:
		return a.local(ctx, h.label)
	case kSFTP:
		return r.doSFTP(ctx, h, m, a)
	}
	stdout, stderr, finish := r.streams(h)
	var err error
	if a.kind == kCommand {
		c := m.Command(ctx, expandAll(a.args, h.label)...)
		c.Stdin = a.stdinFor()
		c.Stdout, c.Stderr = stdout, stderr
		if a.setup != nil {
			a.setup(c)
		}
		err = c.Run()
	} else {
		err = r.doTransfer(ctx, h, m, a, stdout, stderr)
	}
	finish()
	var ee *openssh.ExitError
	switch {
	case err == nil:
		h.res.ExitCode = 0
	case errors.As(err, &ee):
		h.res.ExitCode = ee.Code
	default:
		h.res.ExitCode = -1
	}
	return err
}

// streams returns the writers an action's output goes to: the host's own
// (Runner.Output), the Runner's writers behind a label prefix, or buffers
// that finish appends to the host's Result.
func (r *Runner) streams(h *host) (stdout, stderr io.Writer, finish func()) {
	if r.Output != nil && !h.outSet {
		h.outSet = true
		h.out, h.err = r.Output(h.label)
	}
	var done []func()
	mk := func(own, w io.Writer, buf *[]byte) io.Writer {
		if own != nil {
			return own
		}
		if w != nil {
			lw := &lineWriter{mu: &r.outMu, w: w, prefix: []byte(h.label + ": ")}
			done = append(done, lw.Flush)
			return lw
		}
		sb := &syncBuffer{}
		done = append(done, func() { *buf = append(*buf, sb.Bytes()...) })
		return sb
	}
	stdout = mk(h.out, r.Stdout, &h.res.Stdout)
	stderr = mk(h.err, r.Stderr, &h.res.Stderr)
	return stdout, stderr, func() {
		for _, f := range done {
			f()
		}
	}
}

// doTransfer runs an scp or rsync action.
func (r *Runner) doTransfer(ctx context.Context, h *host, m *openssh.Master, a *Action, stdout, stderr io.Writer) error {
	args := expandAll(a.args, h.label)
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	var removeOnError string
	if a.kind == kScpGet || a.kind == kRsyncGet {
		glob := a.scpOpts != nil && a.scpOpts.Glob || a.rsyncOpts != nil && a.rsyncOpts.Glob
		dir := filepath.Dir(dst)
		if len(srcs) > 1 || glob || strings.HasSuffix(dst, "/") {
			dir = dst
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		if a.oneFile {
			if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
				removeOnError = dst
			}
		}
	}
	var err error
	switch a.kind {
	case kScpPut, kScpGet:
		var o openssh.ScpOpts
		if a.scpOpts != nil {
			o = *a.scpOpts
		}
		if o.Stdout == nil {
			o.Stdout = stdout
		}
		if o.Stderr == nil {
			o.Stderr = stderr
		}
		if o.Progress == nil && a.progress != nil {
			o.Progress = func(done, total int64) { a.progress(h.label, done, total) }
		}
		if a.kind == kScpPut {
			err = m.ScpPut(ctx, srcs, dst, &o)
		} else {
			err = m.ScpGet(ctx, srcs, dst, &o)
		}
	case kRsyncPut, kRsyncGet:
		var o openssh.RsyncOpts
		if a.rsyncOpts != nil {
			o = *a.rsyncOpts
		}
		if o.Stdout == nil {
			o.Stdout = stdout
		}
		if o.Stderr == nil {
			o.Stderr = stderr
		}
		if a.kind == kRsyncPut {
			err = m.RsyncPut(ctx, srcs, dst, &o)
		} else {
			err = m.RsyncGet(ctx, srcs, dst, &o)
		}
	}
	if err != nil && removeOnError != "" {
		if st, serr := os.Lstat(removeOnError); serr == nil && st.Mode().IsRegular() {
			os.Remove(removeOnError)
		}
	}
	return err
}

// doSFTP runs an SFTP action: the session is closed when fn returns, or
// under it when ctx ends.
func (r *Runner) doSFTP(ctx context.Context, h *host, m *openssh.Master, a *Action) error {
	c, err := m.SFTP(ctx, a.sftpOpts...)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = a.sftp(ctx, h.label, c)
	stop()
	c.Close()
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

package openssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// The plumbing of a Cmd's streams: the goroutines that copy them, the idle
// timer and ctx watcher, the kill escalation, and the small stream types.

// tailPipe makes a pipe for ssh's stderr, copied to w (may be nil) and to
// the tail buffer.
func (c *Cmd) tailPipe(w io.Writer, childFiles *[]*os.File) (*os.File, error) {
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, c.pipeErr(err)
	}
	*childFiles = append(*childFiles, pw)
	c.ours = append(c.ours, r)
	if c.sshTail == nil {
		c.sshTail = newTailBuffer(4 << 10)
	}
	c.copyWG.Add(1)
	go c.copyOut(w, r, c.sshTail)
	return pw, nil
}

// touch records activity for the idle timer.
func (c *Cmd) touch() {
	if c.IdleTimeout > 0 {
		c.lastAct.Store(int64(time.Since(c.t0)))
	}
}

func (c *Cmd) setCopyErr(err error) {
	c.copyMu.Lock()
	if c.copyErr == nil {
		c.copyErr = err
	}
	c.copyMu.Unlock()
}

const copyBuf = streamChunk

// copyIn copies r to ssh's stdin.
func (c *Cmd) copyIn(w *os.File, r io.Reader) {
	defer c.copyWG.Done()
	defer w.Close()
	sp := smallBufs.Get().(*[]byte) // as in copyOut
	defer smallBufs.Put(sp)
	buf := *sp
	for {
		n, rerr := r.Read(buf)
		if n == len(buf) && len(buf) < copyBuf {
			bp := streamBufs.Get().(*[]byte)
			defer streamBufs.Put(bp)
			copy(*bp, buf[:n])
			buf = *bp
		}
		if n > 0 {
			c.touch()
			if _, err := w.Write(buf[:n]); err != nil {
				// EPIPE: the command does not read its input; as os/exec,
				// not an error. A closed file: idle timeout or Wait.
				if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, os.ErrClosed) {
					c.setCopyErr(err)
				}
				return
			}
			c.touch()
		}
		if rerr != nil {
			if rerr != io.EOF {
				c.setCopyErr(rerr)
			}
			return
		}
	}
}

// copyOut copies ssh's output to w and tail (either may be nil).
func (c *Cmd) copyOut(w io.Writer, r *os.File, tail *tailBuffer) {
	defer c.copyWG.Done()
	defer r.Close()
	if tw, ok := w.(*ttyWriter); ok {
		defer tw.f.Close()
	}
	// Bulk streams are waited for in poll(2) (see bulkReader).
	br := &bulkReader{f: r}
	defer br.release()
	if lb, ok := w.(*lockedBuffer); ok {
		// Capture and friends: read straight into the buffer.
		lb.readFrom(br, func(p []byte) {
			c.touch()
			if tail != nil {
				tail.Write(p)
			}
		})
		return
	}
	// A small buffer first, the large one once a read fills it: most
	// commands print little, and the 256 KiB each stream allocated and
	// cleared was a tenth of this process's CPU in a round of "true" on
	// 64 hosts. Both come from pools.
	sp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(sp)
	buf := *sp
	var werr error
	for {
		n, rerr := br.Read(buf)
		if n > 0 {
			c.touch()
			if tail != nil {
				tail.Write(buf[:n])
			}
			if w != nil && werr == nil {
				if _, werr = w.Write(buf[:n]); werr != nil {
					c.setCopyErr(werr)
					// Keep reading so ssh is not blocked; discard.
				}
			}
		}
		if rerr != nil {
			return
		}
		if n == len(buf) && len(buf) < copyBuf {
			bp := streamBufs.Get().(*[]byte)
			defer streamBufs.Put(bp)
			buf = *bp
		}
	}
}

// setFail records the first error from ctx or the idle timer.
func (c *Cmd) setFail(err error) {
	c.failMu.Lock()
	if c.fail == nil {
		c.fail = err
	}
	c.failMu.Unlock()
}

func (c *Cmd) getFail() error {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	return c.fail
}

func (c *Cmd) ctxError(err error) error {
	code := CodeSlaveFailed
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeSlaveTimeout
	}
	return &Error{Code: code, Op: "command", Host: c.m.host, Err: err}
}

// watch ends the command on ctx cancellation or idle timeout.
func (c *Cmd) watch() {
	defer close(c.watchEnd)
	var idleC <-chan time.Time
	var timer *time.Timer
	if c.IdleTimeout > 0 {
		timer = time.NewTimer(c.IdleTimeout)
		defer timer.Stop()
		idleC = timer.C
	}
	for {
		select {
		case <-c.exited:
			return
		case <-c.ctx.Done():
			c.setFail(c.ctxError(c.ctx.Err()))
			c.stop()
			return
		case <-idleC:
			since := time.Since(c.t0) - time.Duration(c.lastAct.Load())
			if since < c.IdleTimeout {
				timer.Reset(c.IdleTimeout - since)
				continue
			}
			c.setFail(&Error{Code: CodeSlaveTimeout, Op: "command", Host: c.m.host,
				Detail: fmt.Sprintf("no activity for %v", c.IdleTimeout)})
			if c.rr == nil {
				// Nothing to stop remotely: close our ends (Net::OpenSSH's
				// behaviour), and end the local side so that Wait returns.
				for _, f := range c.ours {
					f.Close()
				}
			}
			c.stop()
			return
		}
	}
}

// kill ends the session from our side: the local ssh gets SIGTERM, then
// SIGKILL after the grace period (WaitDelay, 1 s when zero); a session of
// the mux transport has its control connection closed.
func (c *Cmd) kill() {
	grace := c.WaitDelay
	if grace <= 0 {
		grace = time.Second
	}
	c.sess.end(grace)
}

// waitCopies waits for the copying goroutines, bounded by WaitDelay.
func (c *Cmd) waitCopies() {
	if c.WaitDelay <= 0 {
		c.copyWG.Wait()
		return
	}
	done := make(chan struct{})
	go func() {
		c.copyWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(c.WaitDelay):
	}
	for _, f := range c.ours {
		f.Close()
	}
	<-done
}

// dupFile returns a close-on-exec duplicate of f.
func dupFile(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var derr error
	syscall.ForkLock.RLock()
	cerr := sc.Control(func(raw uintptr) {
		fd, derr = syscall.Dup(int(raw))
		if derr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	syscall.ForkLock.RUnlock()
	if cerr != nil {
		return nil, cerr
	}
	if derr != nil {
		return nil, os.NewSyscallError("dup", derr)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// ttyWriter writes ssh's own stderr to the terminal side of a pty, which
// copyOut closes when ssh's stderr ends.
type ttyWriter struct{ f *os.File }

func (w *ttyWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

// closeOnce is an *os.File whose Close can be called twice.
type closeOnce struct {
	*os.File
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.File.Close() })
	return c.err
}

// actWriteCloser records activity on a StdinPipe.
type actWriteCloser struct {
	wc io.WriteCloser
	c  *Cmd
}

func (a *actWriteCloser) Write(p []byte) (int, error) {
	n, err := a.wc.Write(p)
	if n > 0 {
		a.c.touch()
	}
	return n, err
}

func (a *actWriteCloser) Close() error { return a.wc.Close() }

// actReadCloser records activity on a StdoutPipe or StderrPipe.
type actReadCloser struct {
	r io.ReadCloser
	c *Cmd
}

func (a *actReadCloser) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.c.touch()
	}
	return n, err
}

func (a *actReadCloser) Close() error { return a.r.Close() }

// tailBuffer keeps the last n bytes written to it. It is safe for
// concurrent use.
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	buf   []byte
	total int64 // bytes written since the start
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	t.total += int64(len(p))
	if len(t.buf) > t.n {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

// Bytes returns a copy of what the buffer holds.
func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

// Mark returns how many bytes were written so far, for [tailBuffer.Since].
func (t *tailBuffer) Mark() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// Since returns what was written after mark (as much as the buffer still
// holds).
func (t *tailBuffer) Since(mark int64) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.total - mark
	if n <= 0 {
		return nil
	}
	if n > int64(len(t.buf)) {
		n = int64(len(t.buf))
	}
	return append([]byte(nil), t.buf[int64(len(t.buf))-n:]...)
}

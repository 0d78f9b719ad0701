package openssh

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ProgressFunc receives the progress of a transfer: done bytes out of total.
// total is negative while it is not known. It is called from a goroutine of
// the library, at most a few times a second plus once at the end, never
// concurrently with itself; it must return quickly.
type ProgressFunc func(done, total int64)

// ProgressTo returns a [ProgressFunc] that draws a one-line progress report
// on w ("\r  12.0 MiB / 256.0 MiB   4%"), for a command-line tool, ending it
// with a newline when done reaches a known total.
func ProgressTo(w io.Writer) ProgressFunc {
	var mu sync.Mutex
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if total < 0 {
			fmt.Fprintf(w, "\r%10s", mib(done))
			return
		}
		pct := int64(100)
		if total > 0 {
			pct = done * 100 / total
		}
		fmt.Fprintf(w, "\r%10s / %s %3d%%", mib(done), mib(total), pct)
		if done >= total {
			fmt.Fprintln(w)
		}
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// progressInterval is how often pollers report.
const progressInterval = 200 * time.Millisecond

// poller calls fn with the result of measure every progressInterval until
// stopped; stop makes a last call with the final figures.
type poller struct {
	fn      ProgressFunc
	measure func() (done, total int64)
	quit    chan struct{}
	exited  chan struct{}
}

func startPoller(fn ProgressFunc, measure func() (int64, int64)) *poller {
	p := &poller{fn: fn, measure: measure, quit: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		last := int64(-1)
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				d, tot := p.measure()
				if d != last {
					last = d
					p.fn(d, tot)
				}
			}
		}
	}()
	return p
}

// stop ends the poller and reports final (done, total) when ok.
func (p *poller) stop(final func() (int64, int64)) {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.exited
	if final != nil {
		p.fn(final())
	}
}

// treeSize returns the total size of the regular files at path (walked when
// it is a directory); missing paths count 0.
func treeSize(path string) int64 {
	st, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		if st.Mode().IsRegular() {
			return st.Size()
		}
		return 0
	}
	var n int64
	filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// countingWriter counts bytes written through it and reports them.
type countingWriter struct {
	w     io.Writer
	n     atomic.Int64
	total int64
	fn    ProgressFunc
	mu    sync.Mutex
	last  time.Time
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.add(int64(n))
	return n, err
}

func (c *countingWriter) add(n int64) {
	done := c.n.Add(n)
	if c.fn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.last) >= progressInterval/2 {
		c.last = now
		c.fn(done, c.total)
	}
}

// finish reports the final figures.
func (c *countingWriter) finish() {
	if c.fn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fn(c.n.Load(), c.total)
}

// countingReader counts bytes read through it. Size lets pkg/sftp's
// File.ReadFrom size its concurrent writes.
type countingReader struct {
	r    io.Reader
	size int64
	cw   *countingWriter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cw.add(int64(n))
	return n, err
}

func (c *countingReader) Size() int64 { return c.size }

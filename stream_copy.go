package openssh

import (
	"io"
	"os"
	"sync"
)

// The fast path io.Copy takes from the readers the library returns: their
// WriteTo reads the pipe in streamChunk pieces. Without it io.Copy falls
// back to 32 KiB reads, or io.Discard's 8 KiB ones: four to thirty times
// the system calls and wake-ups per byte.

// streamChunk is the read size of the stream copies: half the capacity of
// a 512 KiB pipe, four times Linux's default pipe.
const streamChunk = 256 << 10

var streamBufs = sync.Pool{New: func() any { b := make([]byte, streamChunk); return &b }}

// smallBufs are the first buffers of the output copies (see copyOut).
var smallBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// copyChunks copies r to w in streamChunk pieces, calling touch after each
// read that brought data (touch may be nil). It returns what was written
// and the first error other than EOF.
func copyChunks(w io.Writer, r io.Reader, touch func()) (int64, error) {
	if f, ok := r.(*os.File); ok {
		br := &bulkReader{f: f}
		defer br.release()
		r = br
	}
	bp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			if touch != nil {
				touch()
			}
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, werr
			}
			if m != k {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// WriteTo copies the pipe to w in large pieces (io.Copy uses it).
func (a *actReadCloser) WriteTo(w io.Writer) (int64, error) {
	return copyChunks(w, a.r, a.c.touch)
}

// WriteTo copies the command's output to w in large pieces (io.Copy uses
// it).
func (p *pipeOut) WriteTo(w io.Writer) (int64, error) {
	if a, ok := p.r.(*actReadCloser); ok {
		return a.WriteTo(w)
	}
	return copyChunks(w, p.r, nil)
}

// bulkMin is the read that makes a stream a bulk one (see bulkReader).
const bulkMin = 16 << 10

// bulkReader reads the pipe f, and once a read has brought bulkMin bytes
// or more, waits for its data in poll(2) rather than in the netpoller when
// a slot is free (see takePoller): the bulk streams, not the many small
// ones. release gives the slot back.
type bulkReader struct {
	f     *os.File
	poll  bool
	tried bool
}

func (b *bulkReader) Read(p []byte) (int, error) {
	n, err := pollRead(b.f, p, b.poll)
	if n >= bulkMin && !b.tried {
		b.tried = true
		b.poll = takePoller()
	}
	return n, err
}

func (b *bulkReader) release() {
	if b.poll {
		b.poll = false
		releasePoller()
	}
}

// pipeRelease calls releasePipe once, when closed: a grown pipe's place in
// a Cmd's list of what to close after Wait.
type pipeRelease struct{ once sync.Once }

func (p *pipeRelease) Close() error {
	p.once.Do(releasePipe)
	return nil
}

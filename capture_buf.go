package openssh

import "sync"

// lockedBuffer collects a command's output for Capture, Output and
// friends: written by one goroutine, read after Wait. It keeps the bytes
// in a list of chunks and assembles them once, at the end: growing one
// slice by appending copies everything at every step, touches about five
// times the data in fresh memory and held about four times the data at
// its peak for a 256 MiB capture; the chunks touch it once, and the peak
// is the chunks plus the result.
type lockedBuffer struct {
	mu     sync.Mutex
	chunks [][]byte // full but for the last
	n      int
	done   []byte // the assembled result, once Bytes was called
}

// Chunks start small, so that short outputs cost little, and double up
// to chunkMax.
const (
	chunkMin = 4 << 10
	chunkMax = 4 << 20
)

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done != nil {
		// Written after Bytes (not done by the library): start over
		// from the result.
		b.chunks, b.done = [][]byte{b.done}, nil
	}
	n := len(p)
	for len(p) > 0 {
		var last []byte
		if k := len(b.chunks); k > 0 {
			last = b.chunks[k-1]
		}
		if len(last) == cap(last) {
			size := chunkMin
			if last != nil {
				size = min(2*cap(last), chunkMax)
			}
			last = make([]byte, 0, max(size, min(len(p), chunkMax)))
			b.chunks = append(b.chunks, last)
		}
		k := min(len(p), cap(last)-len(last))
		last = append(last, p[:k]...)
		b.chunks[len(b.chunks)-1] = last
		p = p[k:]
		b.n += k
	}
	return n, nil
}

// Bytes returns everything written, assembled into one slice (the only
// chunk itself when there is one). The chunks are dropped.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done != nil {
		return b.done
	}
	var out []byte
	switch len(b.chunks) {
	case 0:
		return nil
	case 1:
		out = b.chunks[0]
	default:
		out = make([]byte, 0, b.n)
		for i, c := range b.chunks {
			out = append(out, c...)
			b.chunks[i] = nil
		}
	}
	b.chunks, b.done = nil, out
	return out
}

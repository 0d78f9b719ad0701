package openssh

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// TestLockedBufferChunks: what is written in pieces of every size, across
// chunk boundaries and bigger than a chunk, comes back whole and in order,
// from every call of Bytes, and writing after Bytes appends.
func TestLockedBufferChunks(t *testing.T) {
	var b lockedBuffer
	if got := b.Bytes(); len(got) != 0 {
		t.Fatalf("empty buffer: %d bytes", len(got))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var want []byte
	sizes := []int{0, 1, chunkMin - 1, 1, chunkMin, 3*chunkMax + 5, 17, chunkMax, 0, 100000}
	for _, n := range sizes {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if k, err := b.Write(p); k != n || err != nil {
			t.Fatalf("Write(%d): %d, %v", n, k, err)
		}
		want = append(want, p...)
	}
	got := b.Bytes()
	if !bytes.Equal(got, want) {
		t.Fatalf("Bytes: %d bytes, want %d, or they differ", len(got), len(want))
	}
	if b.maps == nil {
		t.Fatal("no chunk was mapped")
	}
	if len(b.maps.list) != 0 {
		t.Fatalf("%d mapped chunks left after Bytes", len(b.maps.list))
	}
	if again := b.Bytes(); !bytes.Equal(again, want) {
		t.Fatal("second Bytes differs")
	}
	b.Write([]byte("tail"))
	if got2 := b.Bytes(); !bytes.Equal(got2, append(want, "tail"...)) {
		t.Fatal("Bytes after a later Write differs")
	}
	// The first result, now a chunk of the second, is heap memory: Bytes
	// copies it, never moves its pages away (it would fault here).
	if !bytes.Equal(got, want) {
		t.Fatal("the first result changed")
	}
	// One small write is returned as its own chunk.
	var s lockedBuffer
	s.Write([]byte("hello"))
	if got := s.Bytes(); string(got) != "hello" {
		t.Fatalf("small: %q", got)
	}
}

// pieceReader returns its data in pieces of pseudo-random sizes.
type pieceReader struct {
	data []byte
	rng  *rand.Rand
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(300<<10))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// TestLockedBufferReadFrom: what readFrom reads, in pieces of any size,
// from a reader or a pipe, comes back whole from Bytes; seen gets every
// piece in order; on Linux, Bytes moved the mapped chunks' pages rather
// than copying them, and no mapping is left.
func TestLockedBufferReadFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, chunkMin + 1, heapChunks - 1, heapChunks + 4097, 3*chunkMax + 12345} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			var b lockedBuffer
			var seen []byte
			err := b.readFrom(&pieceReader{data: want, rng: rng}, func(p []byte) { seen = append(seen, p...) })
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(seen, want) {
				t.Fatalf("seen: %d bytes, want %d, or they differ", len(seen), n)
			}
			got := b.Bytes()
			if !bytes.Equal(got, want) {
				t.Fatalf("Bytes: %d bytes, want %d, or they differ", len(got), n)
			}
			if b.maps != nil && len(b.maps.list) != 0 {
				t.Fatalf("%d mapped chunks left after Bytes", len(b.maps.list))
			}
			if runtime.GOOS == "linux" && n > 2*heapChunks {
				if b.moved == 0 || b.moved%os.Getpagesize() != 0 {
					t.Fatalf("Bytes moved %d bytes of %d: want whole pages, more than none", b.moved, n)
				}
			}
			// The result is ordinary memory: it can be written and
			// grown.
			if n > 0 {
				got[0]++
				got[n-1]++
				if got = append(got, 1); got[n] != 1 {
					t.Fatal("append")
				}
			}
		})
	}
	// From a pipe, as Capture reads, with an error other than EOF
	// returned.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)
	go func() { w.Write(want); w.Close() }()
	var b lockedBuffer
	if err := b.readFrom(r, nil); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := b.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("pipe: %d bytes, want %d, or they differ", len(got), len(want))
	}
	if err := b.readFrom(r, nil); err == nil {
		t.Fatal("readFrom a closed file: no error")
	}
}

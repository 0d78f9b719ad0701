package openssh

import (
	"bytes"
	"math/rand/v2"
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
	want = append(want, "tail"...)
	if got := b.Bytes(); !bytes.Equal(got, want) {
		t.Fatal("Bytes after a later Write differs")
	}
	// One small write is returned as its own chunk.
	var s lockedBuffer
	s.Write([]byte("hello"))
	if got := s.Bytes(); string(got) != "hello" {
		t.Fatalf("small: %q", got)
	}
}

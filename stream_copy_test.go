package openssh

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// TestStreamWriterTo: the readers of PipeOut and StdoutPipe give io.Copy
// their WriteTo, which moves the bytes exactly (on both transports) and
// counts as activity for IdleTimeout; a Cmd.Stdout that is no file gets
// them exactly too.
func TestStreamWriterTo(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		dir := sharedDir(t)
		src := filepath.Join(dir, "src")
		want := writeRandom(t, src, 3<<20+7)
		ctx := t.Context()

		r, err := m.PipeOut(ctx, "cat", src)
		if err != nil {
			t.Fatalf("PipeOut: %v", err)
		}
		if _, ok := r.(io.WriterTo); !ok {
			t.Fatalf("PipeOut's reader %T is no io.WriterTo", r)
		}
		var got bytes.Buffer
		n, err := io.Copy(&got, r)
		if err != nil || n != int64(len(want)) {
			t.Fatalf("io.Copy from PipeOut: %d bytes, %v", n, err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("PipeOut Close: %v", err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatal("PipeOut: bytes differ")
		}

		// A slow stream longer than the idle timeout: every chunk is
		// activity, so the command is not killed.
		c := m.Command(ctx, "for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; done")
		c.IdleTimeout = 700 * time.Millisecond
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		got.Reset()
		if _, err := io.Copy(&got, out); err != nil {
			t.Fatalf("io.Copy from StdoutPipe: %v", err)
		}
		if err := c.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if got.String() != "1\n2\n3\n4\n5\n6\n" {
			t.Fatalf("StdoutPipe: %q", got.String())
		}

		// Stdout an io.Writer: copied by the library.
		got.Reset()
		c = m.Command(ctx, "cat", src)
		c.Stdout = &got
		if err := c.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("Cmd.Stdout: %d bytes, want %d, or they differ", got.Len(), len(want))
		}
	})
}

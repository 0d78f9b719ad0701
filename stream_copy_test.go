package openssh

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
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

// TestBulkReader: a bulk pipe read (waiting in poll(2) on Linux once a
// read has brought bulkMin bytes) gives every byte in order and then EOF;
// a Close of the pipe from another goroutine ends a wait with
// os.ErrClosed; the poll slots are all given back.
func TestBulkReader(t *testing.T) {
	before := pollersInUse()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3*bulkMin+123)
	rand.Read(want)
	go func() {
		// In pieces, with pauses longer than pollQuiet: the reader goes
		// from poll(2) to the netpoller and back.
		for i, p := 0, want; len(p) > 0; i++ {
			k := min(len(p), bulkMin+i*1000)
			w.Write(p[:k])
			p = p[k:]
			if i == 1 {
				time.Sleep(3 * pollQuiet)
			}
		}
		w.Close()
	}()
	br := &bulkReader{f: r}
	var got []byte
	buf := make([]byte, 4*bulkMin)
	for {
		n, err2 := br.Read(buf)
		got = append(got, buf[:n]...)
		if err2 != nil {
			if err2 != io.EOF {
				err = err2
			}
			break
		}
	}
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v), want the %d written", len(got), err, len(want))
	}
	if !br.tried {
		t.Error("a read of bulkMin bytes or more did not make the stream a bulk one")
	}
	br.release()
	r.Close()

	// A wait ended by Close.
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	br = &bulkReader{f: r2}
	defer br.release()
	w2.Write(make([]byte, bulkMin))
	if n, err := br.Read(make([]byte, bulkMin)); n != bulkMin || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := br.Read(make([]byte, bulkMin))
		done <- err
	}()
	time.Sleep(pollQuiet / 2) // the reader is waiting, in poll(2) on Linux
	r2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("read ended by Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a read waiting for data")
	}
	br.release()
	if n := pollersInUse(); n != before {
		t.Errorf("%d poll slots in use after the readers released them, want %d", n, before)
	}
}

// TestTakePollerBound: takePoller hands out maxPollers slots at once, no
// more (none where readers never wait in poll(2)), and each release gives
// one back.
func TestTakePollerBound(t *testing.T) {
	want := maxPollers - pollersInUse()
	taken := 0
	for takePoller() {
		taken++
		if taken > maxPollers {
			break
		}
	}
	if taken != want {
		t.Errorf("took %d poll slots, want %d (maxPollers %d)", taken, want, maxPollers)
	}
	releasePoller()
	if !takePoller() && want > 0 {
		t.Error("no slot after one was released")
	} else if want > 0 {
		releasePoller()
	}
	for range taken - 1 {
		releasePoller()
	}
	if n := pollersInUse(); n != maxPollers-want {
		t.Errorf("%d poll slots in use after the releases, want %d", n, maxPollers-want)
	}
}

package openssh

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// ptyReader collects what a pty's master side gives, in the background.
type ptyReader struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{} // closed when reading stopped (EIO after the end)
}

func readPty(ptm *os.File) *ptyReader {
	r := &ptyReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		b := make([]byte, 256)
		for {
			n, err := ptm.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

// has reports whether s has arrived after the first from bytes.
func (r *ptyReader) has(s string, from int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Contains(r.buf.Bytes()[min(from, r.buf.Len()):], []byte(s))
}

func (r *ptyReader) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Len()
}

func (r *ptyReader) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// Cmd.SetWinsize resizes a running pty command on both transports: the
// local pty takes the new size and the remote tty sees it ("stty size").
// (Under TransportMux a resize of the local pty alone used to stay local:
// the remote still said 24 80.)
func TestPtyResize(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		m, _ := newTestMasterT(t, srv, nil, tr)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		// Each line typed runs "stty size"; ^D ends the loop.
		c := m.Command(ctx, "echo ready; while read x; do stty size; done; echo bye")
		ptm, err := c.StartPty()
		if err != nil {
			t.Fatal(err)
		}
		r := readPty(ptm)
		end := func() error {
			ptm.Close()
			<-r.done
			return c.Wait()
		}
		fail := func(format string, args ...any) {
			t.Helper()
			cancel() // ends the command (closing the pty may not, under mux)
			end()
			t.Fatalf(format+"\npty output: %q", append(args, r.String())...)
		}
		if err := waitRaw(ptm, tr); err != nil {
			fail("%v", err)
		}
		// waitFor types a line every 200 ms until want has come after
		// the output seen so far, for at most d.
		waitFor := func(want string, d time.Duration) bool {
			from := r.len()
			deadline := time.Now().Add(d)
			for time.Now().Before(deadline) {
				if _, err := ptm.Write([]byte("\r")); err != nil {
					return false
				}
				for tick := time.Now().Add(200 * time.Millisecond); time.Now().Before(tick); time.Sleep(10 * time.Millisecond) {
					if r.has(want, from) {
						return true
					}
				}
			}
			return false
		}
		if !waitUntil(func() bool { return r.has("ready\r", 0) }, 10*time.Second) {
			fail("the remote shell did not start")
		}
		if !waitFor("24 80\r", 10*time.Second) {
			fail("the remote tty does not start at 24x80")
		}

		start := time.Now()
		if err := c.SetWinsize(40, 100); err != nil {
			fail("SetWinsize: %v", err)
		}
		if ws, err := pty.GetsizeFull(ptm); err != nil || ws.Rows != 40 || ws.Cols != 100 {
			fail("local pty after SetWinsize(40, 100): %+v %v", ws, err)
		}
		if !waitFor("40 100\r", 5*time.Second) {
			fail("the remote tty does not see the new size 40x100 5 s after SetWinsize")
		}
		t.Logf("the remote tty saw 40x100 %v after SetWinsize", time.Since(start).Round(time.Millisecond))

		ptm.Write([]byte{4}) // ^D: read fails, the loop ends
		if !waitUntil(func() bool { return r.has("bye\r", 0) }, 10*time.Second) {
			fail("the remote loop did not end on ^D")
		}
		if err := noHang(t, 10*time.Second, "pty Wait", end); err != nil {
			t.Errorf("pty command: %v, want success\npty output: %q", err, r.String())
		}
	})
}

package openssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
	"github.com/pkg/sftp"
)

// writeRandom writes n random bytes to p (readable by the remote account)
// and returns them.
func writeRandom(t *testing.T, p string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(p, b, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	return b
}

// openSFTP returns an SFTP client on m, closed when the test ends.
func openSFTP(t *testing.T, m *Master) *sftp.Client {
	t.Helper()
	c, err := m.SFTP(t.Context())
	if err != nil {
		t.Fatalf("SFTP: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkContent fails t unless p holds exactly want.
func checkContent(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: %d bytes, want %d; first difference at %d", p, len(got), len(want), i)
	}
}

// TestSFTPRoundTripSizes uploads and downloads files of sizes around the
// packet size and the fast path's threshold with SFTPPutFile and
// SFTPGetFile, byte for byte, on both transports; the big ones also
// through fastPut and fastGet directly, which must take them.
func TestSFTPRoundTripSizes(t *testing.T) {
	sizes := []int{0, 1, 32<<10 - 1, 255<<10 + 1, sftpFastMin - 1, sftpFastMin, sftpFastMin + 255<<10 + 3, 64 << 20}
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		c := openSFTP(t, m)
		dir := xferDir(t)
		for _, n := range sizes {
			src := filepath.Join(dir, "src")
			want := writeRandom(t, src, n)
			up := filepath.Join(dir, "up")
			var last atomic.Int64
			prog := func(done, total int64) {
				if total != int64(n) {
					t.Errorf("size %d: progress total %d", n, total)
				}
				last.Store(done)
			}
			if err := SFTPPutFile(t.Context(), c, src, up, prog); err != nil {
				t.Fatalf("SFTPPutFile (%d bytes): %v", n, err)
			}
			if last.Load() != int64(n) {
				t.Errorf("SFTPPutFile (%d bytes): last progress %d", n, last.Load())
			}
			checkContent(t, up, want)
			down := filepath.Join(dir, "down")
			last.Store(-1)
			if err := SFTPGetFile(t.Context(), c, up, down, prog); err != nil {
				t.Fatalf("SFTPGetFile (%d bytes): %v", n, err)
			}
			if last.Load() != int64(n) {
				t.Errorf("SFTPGetFile (%d bytes): last progress %d", n, last.Load())
			}
			checkContent(t, down, want)
			if n < sftpFastMin {
				continue
			}
			// The fast path itself, on a file already there (truncated
			// by the open).
			lf, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := fastPut(t.Context(), c, lf, int64(n), src, up, &countingWriter{})
			lf.Close()
			if !ok || err != nil {
				t.Fatalf("fastPut (%d bytes): taken %v, %v", n, ok, err)
			}
			checkContent(t, up, want)
			if ok, err := fastGet(t.Context(), c, up, down, nil); !ok || err != nil {
				t.Fatalf("fastGet (%d bytes): taken %v, %v", n, ok, err)
			}
			checkContent(t, down, want)
		}
		// A client that is closed is no longer known to the fast path.
		c.Close()
		if _, known := sftpMasters.Load(c); known {
			t.Error("closed client still registered for the fast path")
		}
	})
}

// TestSFTPGetToFIFO: a big download into a local name that is a FIFO
// (as /dev/stdout can be) arrives whole and in order: the fast path, which
// writes at offsets, leaves it to pkg/sftp's.
func TestSFTPGetToFIFO(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		c := openSFTP(t, m)
		dir := xferDir(t)
		src := filepath.Join(dir, "src")
		want := writeRandom(t, src, sftpFastMin+255<<10+3)
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- nil
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			got <- b
		}()
		if err := SFTPGetFile(t.Context(), c, src, fifo, nil); err != nil {
			t.Fatalf("SFTPGetFile into a FIFO: %v", err)
		}
		if b := <-got; !bytes.Equal(b, want) {
			t.Fatalf("the FIFO's reader got %d bytes, want the %d of the file, or they differ", len(b), len(want))
		}
	})
}

// TestSFTPPutFileShrinks: a local file cut short during a big upload is an
// error that says so, on the local file, and the remote file is emptied
// rather than left partly written.
func TestSFTPPutFileShrinks(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		c := openSFTP(t, m)
		dir := xferDir(t)
		src := filepath.Join(dir, "src")
		writeRandom(t, src, 40<<20)
		dst := filepath.Join(dir, "dst")
		var cut atomic.Bool
		prog := func(done, total int64) {
			if done > 0 && !cut.Swap(true) {
				if err := os.Truncate(src, 1<<20); err != nil {
					t.Error(err)
				}
			}
		}
		err := SFTPPutFile(t.Context(), c, src, dst, prog)
		var pe *os.PathError
		if !errors.As(err, &pe) || pe.Path != src || !strings.Contains(err.Error(), "shrank") {
			t.Fatalf("upload of a file cut short: %v, want a PathError on %s saying it shrank", err, src)
		}
		t.Logf("error: %v", err)
		if st, err := os.Stat(dst); err == nil && st.Size() != 0 {
			t.Errorf("the remote file holds %d bytes, want none", st.Size())
		}
		if _, err := c.Stat(src); err != nil {
			t.Errorf("the client after the failure: %v", err)
		}
	})
}

// TestSFTPFastErrors: failures of big transfers read as they do through
// pkg/sftp, and leave nothing behind.
func TestSFTPFastErrors(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		c := openSFTP(t, m)
		dir := xferDir(t)
		src := filepath.Join(dir, "src")
		writeRandom(t, src, sftpFastMin+1)
		// Upload into a directory the remote account cannot write.
		ro := mkdirShared(t, filepath.Join(dir, "ro"))
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if err := SFTPPutFile(t.Context(), c, src, filepath.Join(ro, "f"), nil); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("SFTPPutFile into a read-only directory: %v, want fs.ErrPermission", err)
		}
		if _, err := os.Stat(filepath.Join(ro, "f")); err == nil {
			t.Error("SFTPPutFile into a read-only directory made the file")
		}
		// Download of a file that is not there.
		if err := SFTPGetFile(t.Context(), c, filepath.Join(dir, "missing"), filepath.Join(dir, "m"), nil); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("SFTPGetFile of a missing file: %v, want fs.ErrNotExist", err)
		}
		// Download into a local directory that is not there.
		if err := SFTPGetFile(t.Context(), c, src, filepath.Join(dir, "nodir", "f"), nil); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("SFTPGetFile into a missing local directory: %v, want fs.ErrNotExist", err)
		}
		// ctx cancelled during the copy (by the progress callback): the
		// session is ended, the error is ctx's, as on pkg/sftp's path.
		for _, get := range []bool{true, false} {
			cctx, ccancel := context.WithCancel(t.Context())
			prog := func(done, total int64) {
				if done > 0 {
					ccancel()
				}
			}
			dst := filepath.Join(dir, fmt.Sprintf("cancelled-%v", get))
			var err error
			want, op := src, "put: read local"
			if get {
				err = SFTPGetFile(cctx, c, src, dst, prog)
				want, op = dst, "get: write local"
			} else {
				err = SFTPPutFile(cctx, c, src, dst, prog)
			}
			ccancel()
			var pe *os.PathError
			if !errors.As(err, &pe) || pe.Path != want || !strings.Contains(pe.Op, op) || !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled (get %v): %v, want a PathError %q on %s matching context.Canceled", get, err, op, want)
			}
		}
		// The client still works after all that.
		if _, err := c.Stat(src); err != nil {
			t.Errorf("Stat after the failures: %v", err)
		}
	})
}

// TestSFTPFastConnectionLost: the server going away in the middle of a
// fast download or upload is an error, not a hang, and leaves no process
// or goroutine behind.
func TestSFTPFastConnectionLost(t *testing.T) {
	for _, get := range []bool{true, false} {
		name := "put"
		if get {
			name = "get"
		}
		t.Run(name, func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, tr Transport) {
				checkNoLeaks(t)
				srv := sshtest.Start(t, sshtest.Config{})
				m, _ := newTestMasterT(t, srv, nil, tr)
				c, err := m.SFTP(t.Context())
				if err != nil {
					t.Fatalf("SFTP: %v", err)
				}
				defer c.Close()
				dir := xferDir(t)
				src := filepath.Join(dir, "src")
				writeRandom(t, src, 64<<20)
				var killed atomic.Bool
				prog := func(done, total int64) {
					if done > 0 && !killed.Swap(true) {
						srv.Kill()
					}
				}
				if get {
					err = SFTPGetFile(t.Context(), c, src, filepath.Join(dir, "dst"), prog)
				} else {
					err = SFTPPutFile(t.Context(), c, src, filepath.Join(dir, "dst"), prog)
				}
				if !killed.Load() {
					t.Fatalf("the transfer ended (%v) before the server was killed", err)
				}
				if err == nil {
					t.Fatal("transfer succeeded with the server killed in the middle")
				}
				if !errors.Is(err, ErrMasterGone) {
					t.Errorf("error %v does not match ErrMasterGone", err)
				}
			})
		})
	}
}

// TestSFTPFastCancelWhileWaiting: ctx ends from another goroutine while
// a fast transfer waits for the session (in poll(2) on Linux, see
// takePoller): the transfer returns ctx's error and leaves nothing behind,
// and the client still works.
func TestSFTPFastCancelWhileWaiting(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		c := openSFTP(t, m)
		dir := xferDir(t)
		src := filepath.Join(dir, "src")
		want := writeRandom(t, src, 64<<20)
		for _, get := range []bool{true, false} {
			for _, after := range []time.Duration{0, time.Millisecond, 10 * time.Millisecond} {
				ctx, cancel := context.WithCancel(t.Context())
				var once sync.Once
				prog := func(done, total int64) {
					if done > 0 {
						once.Do(func() { time.AfterFunc(after, cancel) })
					}
				}
				dst := filepath.Join(dir, fmt.Sprintf("dst-%v-%v", get, after))
				var err error
				if get {
					err = SFTPGetFile(ctx, c, src, dst, prog)
				} else {
					err = SFTPPutFile(ctx, c, src, dst, prog)
				}
				cancel()
				if !errors.Is(err, context.Canceled) {
					t.Errorf("get %v, cancelled %v after the first progress: %v, want context.Canceled", get, after, err)
				}
			}
		}
		got := filepath.Join(dir, "again")
		if err := SFTPGetFile(t.Context(), c, src, got, nil); err != nil {
			t.Fatalf("SFTPGetFile after the cancellations: %v", err)
		}
		if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, want) {
			t.Errorf("download after the cancellations: %d bytes (%v), not the source's %d", len(b), err, len(want))
		}
	})
}

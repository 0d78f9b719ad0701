package openssh

import (
	"bytes"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketWatch tells when a name appears in a directory, through inotify.
// ssh binds its control socket under a temporary name and links (or
// renames) it into place, so IN_CREATE and IN_MOVED_TO on the socket's
// name cover both. Each watch has its own inotify fd, closed by close: no
// fd outlives the wait for the master.
type socketWatch struct {
	f    *os.File
	c    chan struct{}
	done chan struct{}
}

// watchSocket starts watching for path. It returns nil when inotify is
// not available (for example when the per-user limit of inotify instances
// is reached); the caller then polls.
func watchSocket(path string) *socketWatch {
	if noInotify {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return nil
	}
	// A non-blocking fd goes to the runtime poller, so closing the file
	// wakes the reader.
	w := &socketWatch{
		f:    os.NewFile(uintptr(fd), "inotify"),
		c:    make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go w.read([]byte(filepath.Base(path)))
	return w
}

// read signals w.c for each event on name, until the file is closed.
func (w *socketWatch) read(name []byte) {
	defer close(w.done)
	buf := make([]byte, 4096)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break
			}
			got := bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:end], "\x00")
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 || bytes.Equal(got, name) {
				select {
				case w.c <- struct{}{}:
				default:
				}
			}
			off = end
		}
	}
}

// events returns the channel signalled when the name may have appeared;
// nil (never ready) on a nil watch.
func (w *socketWatch) events() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.c
}

// close releases the inotify fd and waits for the reader.
func (w *socketWatch) close() {
	if w == nil {
		return
	}
	w.f.Close()
	<-w.done
}

package openssh

import (
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Masters waiting for their control socket share one inotify instance per
// process, open only while at least one of them waits: an inotify fd per
// master would wake every waiter on every event of a shared control
// directory, and would run into the per-user limit of instances (128 by
// default) when hundreds of masters start at once.
//
// ssh binds its control socket under a temporary name and links (or
// renames) it into place, so IN_CREATE and IN_MOVED_TO on the socket's
// name cover both.

// inotifyHub is the process's shared inotify instance.
var inotifyHub struct {
	mu sync.Mutex
	in *inotify // nil while nobody waits
}

// inotify is one inotify instance and the waiters on its watches.
type inotify struct {
	f       *os.File
	fd      int // f's, kept apart: File.Fd would make it blocking
	done    chan struct{}
	waiters int
	wds     map[int32]map[string][]*socketWatch // watch → name → waiters
}

// socketWatch is one wait for a name in a directory.
type socketWatch struct {
	c    chan struct{}
	in   *inotify
	wd   int32
	name string
}

// noInotify turns the inotify watch off (set by a benchmark through
// setPollOnly, to measure polling alone).
var noInotify bool

// setPollOnly turns the inotify watch off or back on.
func setPollOnly(on bool) { noInotify = on }

// watchSocket starts watching for path. It returns nil when inotify is
// not available (the per-user limit of instances or watches is reached,
// for one); the caller then polls.
func watchSocket(path string) *socketWatch {
	if noInotify {
		return nil
	}
	h := &inotifyHub
	h.mu.Lock()
	defer h.mu.Unlock()
	in := h.in
	if in == nil {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return nil
		}
		// A non-blocking fd goes to the runtime poller, so closing the
		// file wakes the reader.
		in = &inotify{
			f:    os.NewFile(uintptr(fd), "inotify"),
			fd:   fd,
			done: make(chan struct{}),
			wds:  make(map[int32]map[string][]*socketWatch),
		}
		go in.read()
	}
	wd, err := unix.InotifyAddWatch(in.fd, filepath.Dir(path), unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
	if err != nil {
		if h.in == nil {
			in.f.Close()
			<-in.done
		}
		return nil
	}
	h.in = in
	w := &socketWatch{c: make(chan struct{}, 1), in: in, wd: int32(wd), name: filepath.Base(path)}
	names := in.wds[w.wd]
	if names == nil {
		names = make(map[string][]*socketWatch)
		in.wds[w.wd] = names
	}
	names[w.name] = append(names[w.name], w)
	in.waiters++
	return w
}

// read signals the waiters of each event, until the file is closed.
func (in *inotify) read() {
	defer close(in.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := in.f.Read(buf)
		if err != nil {
			return
		}
		inotifyHub.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break
			}
			name := buf[off+unix.SizeofInotifyEvent : end]
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				// Events were lost: everyone looks.
				for _, names := range in.wds {
					for _, ws := range names {
						signal(ws)
					}
				}
			} else if names := in.wds[ev.Wd]; names != nil {
				signal(names[string(name)])
			}
			off = end
		}
		inotifyHub.mu.Unlock()
	}
}

// signal wakes the waiters without blocking.
func signal(ws []*socketWatch) {
	for _, w := range ws {
		select {
		case w.c <- struct{}{}:
		default:
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

// close ends the wait; the last one out removes the directory's watch,
// and closes the inotify fd and waits for its reader.
func (w *socketWatch) close() {
	if w == nil {
		return
	}
	h := &inotifyHub
	h.mu.Lock()
	in := w.in
	names := in.wds[w.wd]
	ws := names[w.name]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(names, w.name)
	} else {
		names[w.name] = ws
	}
	if len(names) == 0 {
		delete(in.wds, w.wd)
		unix.InotifyRmWatch(in.fd, uint32(w.wd))
	}
	in.waiters--
	last := in.waiters == 0
	if last {
		h.in = nil
	}
	h.mu.Unlock()
	if last {
		in.f.Close()
		<-in.done
	}
}

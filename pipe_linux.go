package openssh

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// bigPipe is the capacity asked of the pipes that carry bulk data: SFTP
// sessions, and a command's output that the library copies into an
// io.Writer (Capture). With the default 64 KiB, the master and this
// process take turns every 64 KiB, a context switch and a wake-up each
// time; 512 KiB holds two whole 255 KiB SFTP packets.
const bigPipe = 512 << 10

// maxGrownPipes bounds the grown pipes of the process at one time. The
// kernel counts pipe capacity per user: past pipe-user-pages-soft (16384
// pages, 64 MiB by default) every new pipe of the user's processes gets
// two pages only. 16 pipes of 512 KiB stay at an eighth of it.
const maxGrownPipes = 16

var grownPipes atomic.Int32

// growPipe asks the kernel for a bigPipe-sized buffer on the pipe f and
// reports whether it got it; the caller then calls releasePipe when f's
// pipe is closed. It is only a hint: past the budget, or where the call
// fails, the pipe keeps its size.
func growPipe(f *os.File) bool {
	if grownPipes.Add(1) > maxGrownPipes {
		grownPipes.Add(-1)
		return false
	}
	ok := false
	if sc, err := f.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			_, err := unix.FcntlInt(fd, unix.F_SETPIPE_SZ, bigPipe)
			ok = err == nil
		})
	}
	if !ok {
		grownPipes.Add(-1)
	}
	return ok
}

// releasePipe returns a grown pipe to the budget.
func releasePipe() { grownPipes.Add(-1) }

// writeBuffers writes bufs to f, which is in blocking mode, with as few
// writev(2) calls as the kernel allows (it modifies bufs).
func writeBuffers(f *os.File, bufs [][]byte) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = sc.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			n, err := unix.Writev(int(fd), bufs)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return false // a non-blocking f: wait until it is writable
			}
			if err != nil {
				werr = &os.PathError{Op: "write", Path: f.Name(), Err: err}
				return true
			}
			for n > 0 || (len(bufs) > 0 && len(bufs[0]) == 0) {
				k := min(n, len(bufs[0]))
				bufs[0] = bufs[0][k:]
				n -= k
				if len(bufs[0]) == 0 {
					bufs = bufs[1:]
				}
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// uploadPipe returns the two ends of what carries a fast SFTP upload to
// the master: a Unix socket in blocking mode, not a pipe. The master reads
// it 32 KiB at a time; a full pipe wakes its writer on each of those reads,
// and Go's writer then goes through the netpoller (EAGAIN, park, epoll,
// unpark) every time: that was 1.4 s of CPU per GiB uploaded against 0.6
// for sftp and its ssh. A socket wakes its writer only once most of its
// buffer is free (three quarters), and a blocking write waits in the
// kernel.
//
// The writing end asks for uploadSendBuf of send buffer.
func uploadPipe() (r, w *os.File, err error) {
	r, w, err = socketPair()
	if err != nil {
		return nil, nil, err
	}
	if sc, err := w.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			// Only a hint: the default size still works.
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, uploadSendBuf)
		})
	}
	return r, w, nil
}

// uploadSendBuf is the send buffer that uploadPipe asks for. The kernel
// caps the request at net.core.wmem_max and doubles it: 425,984 bytes where
// wmem_max has its default, 2 MiB where it is 1 MiB or more, against
// 212,992 unasked.
//
// With 212,992 bytes the master often emptied the socket at the end of a
// 255 KiB WRITE before sendfile had put the next one in. It then read the
// WRITE's last piece and the next header by themselves, in reads of less
// than 32 KiB (per 256 MiB, 1,024 WRITEs: 7,775 reads of 32 KiB of the
// 8,192 there would be), and each such read became an SSH packet of its
// own, for the master to seal and for sshd and the sftp server to handle.
// From 425,984 bytes on, almost every read is 32 KiB (8,184), as from
// sftp. With 2 MiB the CPU that the whole machine spent on an upload also
// fell, by 7 to 9 %, and the upload got 10 to 15 % faster (medians of 16
// to 20 interleaved rounds, CPU from /proc/stat); 425,984 bytes saved 1
// to 2 % of the CPU, and the speed moved within noise. Buffers forced to
// 4 and 8 MiB gained nothing more.
const uploadSendBuf = 1 << 20

// spliceOK says that spliceTo works here.
const spliceOK = true

// spliceTo moves n bytes from the pipe p (non-blocking) to the file f at
// offset off with splice(2): the kernel copies them from the pipe's pages
// into the file's, and this process touches none of them. When the pipe
// is empty it waits in poll(2) if poll is true (see takePoller), in the
// netpoller otherwise. It returns how many bytes it moved, and errPipeEOF
// when the pipe's writer closed it first (os.ErrClosed when p was
// closed); any other error is the file's.
func spliceTo(f, p *os.File, off, n int64, poll bool) (int64, error) {
	pc, err := p.SyscallConn()
	if err != nil {
		return 0, err
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var moved int64
	var serr error
	cerr := fc.Control(func(ffd uintptr) {
		rerr := waitRead(pc, poll, func(pfd uintptr) bool {
			for moved < n {
				k, err := unix.Splice(int(pfd), nil, int(ffd), &off, int(n-moved), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false // the pipe is empty: wait for it
				case err != nil:
					serr = &os.PathError{Op: "splice", Path: f.Name(), Err: err}
				case k == 0:
					serr = errPipeEOF
				}
				if serr != nil {
					return true
				}
				moved += k
			}
			return true
		})
		if serr == nil {
			serr = rerr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return moved, serr
}

// maxPollers bounds the threads that wait in poll(2) at one time (see
// takePoller): past it, readers wait in the netpoller.
const maxPollers = 32

// pollQuiet is how long a reader waits in poll(2) before it goes back to
// the netpoller: a stream that has been quiet that long is not a bulk one
// any more, and a Close of its file waits at most that long.
const pollQuiet = 20 * time.Millisecond

var pollers atomic.Int32

// takePoller reports whether a bulk reader of a pipe (a fast SFTP
// transfer, a large command output) may wait for data in poll(2) on its
// own thread, rather than in Go's netpoller; the caller then calls
// releasePoller when it is done.
//
// The master writes a pipe 32 KiB at a time, and its reader is woken up
// for each write. In the netpoller each wake-up goes from the write
// through epoll, a futex to wake a thread and the scheduler's spinning
// before the reader runs again: a download took 25 to 40 % more local CPU
// per GiB than sftp, whose blocking read(2) the kernel wakes directly.
// Waiting in poll(2) costs what sftp's read costs. The wait holds a thread,
// so only maxPollers readers do it at once.
func takePoller() bool {
	if pollers.Add(1) > maxPollers {
		pollers.Add(-1)
		return false
	}
	return true
}

// releasePoller returns what takePoller took.
func releasePoller() { pollers.Add(-1) }

// pollersInUse is how many slots takePoller has handed out (for tests).
func pollersInUse() int { return int(pollers.Load()) }

// waitRead is rc.Read, waiting in poll(2) instead of the netpoller when
// poll is true: fn returns false when the descriptor would block. A wait
// longer than pollQuiet goes on in the netpoller, where a Close of the file
// can end it.
func waitRead(rc syscall.RawConn, poll bool, fn func(fd uintptr) bool) error {
	if !poll {
		if err := rc.Read(fn); err != nil {
			return rawConnErr(err)
		}
		return nil
	}
	done := false
	var perr error
	err := rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for !fn(fd) {
			// POLLHUP and POLLERR end the wait too: fn then sees EOF
			// or the error.
			n, err := unix.Poll(pfd, int(pollQuiet/time.Millisecond))
			switch {
			case err == unix.EINTR:
			case err != nil:
				perr = os.NewSyscallError("poll", err)
				done = true
				return
			case n == 0:
				return // quiet: on to the netpoller
			}
		}
		done = true
	})
	if err == nil && !done {
		err = rc.Read(fn)
	}
	if err != nil {
		return rawConnErr(err)
	}
	return perr
}

// rawConnErr is the error of a RawConn's Read or Control as os.File's
// methods give it: past a deadline, or os.ErrClosed (the RawConn's own
// error for a closed file is internal/poll's).
func rawConnErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return os.ErrClosed
}

// pollRead reads the non-blocking pipe p into b as p.Read does, waiting in
// poll(2) when poll is true (see takePoller).
func pollRead(p *os.File, b []byte, poll bool) (int, error) {
	if !poll || len(b) == 0 {
		return p.Read(b)
	}
	rc, err := p.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	err = waitRead(rc, true, func(fd uintptr) bool {
		for {
			k, err := unix.Read(int(fd), b)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false
			case err != nil:
				rerr = &os.PathError{Op: "read", Path: p.Name(), Err: err}
			case k == 0:
				rerr = io.EOF
			default:
				n = k
			}
			return true
		}
	})
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: p.Name(), Err: err}
	}
	return n, rerr
}

// sendfileOK says that sendFile works here.
const sendfileOK = true

// sendFile sends n bytes of the file f from offset off to the socket s
// (in blocking mode, see uploadPipe) with sendfile(2): the kernel passes
// the file's pages to the socket without a copy through this process. It
// returns how many bytes it sent and io.EOF when the file ended first.
func sendFile(s, f *os.File, off, n int64) (int64, error) {
	sc, err := s.SyscallConn()
	if err != nil {
		return 0, err
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var serr error
	cerr := fc.Control(func(ffd uintptr) {
		werr := sc.Write(func(sfd uintptr) bool {
			for sent < n {
				k, err := unix.Sendfile(int(sfd), int(ffd), &off, int(n-sent))
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false // a non-blocking socket: wait
				case err != nil:
					serr = &os.PathError{Op: "sendfile", Path: f.Name(), Err: err}
				case k == 0:
					serr = io.EOF
				}
				if serr != nil {
					return true
				}
				sent += int64(k)
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return sent, serr
}

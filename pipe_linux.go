package openssh

import (
	"os"

	"golang.org/x/sys/unix"
)

// bigPipe is the capacity asked of the pipes that carry bulk data (SFTP
// sessions, streams): 1 MiB, Linux's default /proc/sys/fs/pipe-max-size.
// With the default 64 KiB, the master and the reader take turns every
// 64 KiB, which costs a context switch and a wake-up each time.
const bigPipe = 1 << 20

// growPipe asks the kernel for a bigPipe-sized buffer on the pipe f. It is
// only a hint: past the per-user limit (pipe-user-pages-soft), or where
// the call fails, the pipe keeps the size it has.
func growPipe(f *os.File) {
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	sc.Control(func(fd uintptr) {
		unix.FcntlInt(fd, unix.F_SETPIPE_SZ, bigPipe)
	})
}

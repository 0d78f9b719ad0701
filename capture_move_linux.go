package openssh

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// movePages moves the whole pages at the start of src, a chunk of an
// anonymous private mapping, to dst (of src's length, in memory that is
// the program's own: a large heap object) with mremap, and returns how
// many bytes it moved: a multiple of the page size, 0 when the addresses
// are not page-aligned or the kernel refuses. The moved pages are no
// longer mapped at src's address; the caller copies the rest. Pages move
// without a copy and without faulting on dst's fresh memory.
func movePages(dst, src []byte) int {
	if len(dst) != len(src) || len(src) < pageSize {
		return 0
	}
	d, s := uintptr(unsafe.Pointer(&dst[0])), uintptr(unsafe.Pointer(&src[0]))
	ps := uintptr(pageSize)
	if d%ps != 0 || s%ps != 0 {
		return 0
	}
	n := len(src) &^ (pageSize - 1)
	_, _, e := unix.Syscall6(unix.SYS_MREMAP, s, uintptr(n), uintptr(n), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, d, 0)
	runtime.KeepAlive(dst)
	if e != 0 {
		return 0
	}
	return n
}

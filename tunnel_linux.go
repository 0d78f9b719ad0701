package openssh

import (
	"net"
	"syscall"
	"unsafe"
)

// unreadBytes returns how many bytes written to c its peer has not read yet
// (SIOCOUTQ), or 0 when that cannot be known.
func unreadBytes(c *net.UnixConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var n int32
	rc.Control(func(fd uintptr) {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n))); e != 0 {
			n = 0
		}
	})
	return int(n)
}

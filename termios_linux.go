package openssh

import "golang.org/x/sys/unix"

// The ioctls that read and set a terminal's modes, and the input flag that
// only Linux has (map upper case to lower).
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
	iflagIUCLC      = unix.IUCLC
)

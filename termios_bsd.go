//go:build darwin || freebsd || openbsd || netbsd || dragonfly

package openssh

import "golang.org/x/sys/unix"

// The ioctls that read and set a terminal's modes; there is no IUCLC.
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
	iflagIUCLC      = 0
)

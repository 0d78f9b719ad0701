package openssh

import "golang.org/x/sys/unix"

// ioctlGetTermios is the ioctl that reads a terminal's modes.
const ioctlGetTermios = unix.TCGETS

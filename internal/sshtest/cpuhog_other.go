//go:build !linux

package sshtest

import "syscall"

// hogAttr puts a CPU hog in its own process group.
func hogAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

//go:build !linux

package sshtest

import "syscall"

// childAttr puts a process the harness starts (sshd, a CPU hog) in its own
// process group. (Only Linux can kill it with the test binary.)
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

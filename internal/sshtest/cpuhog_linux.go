package sshtest

import "syscall"

// hogAttr puts a CPU hog in its own process group, killed with the test
// binary should it die without cleaning up.
func hogAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

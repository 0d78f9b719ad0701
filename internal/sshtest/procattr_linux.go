package sshtest

import "syscall"

// childAttr puts a process the harness starts (sshd, a CPU hog) in its own
// process group, killed with the test binary should it die without
// cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

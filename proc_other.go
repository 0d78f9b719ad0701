//go:build unix && !linux

package openssh

import "syscall"

// hasPdeathsig says that the kernel can end a child when its parent dies:
// only Linux can; a watchdog ties the master to the program here.
const hasPdeathsig = false

// masterSysProcAttr starts the master in a new session, so it has no
// controlling terminal and leads its own process group. There is no
// Pdeathsig outside Linux.
func masterSysProcAttr(bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// slaveSysProcAttr is the process setup of slave ssh processes.
func slaveSysProcAttr() *syscall.SysProcAttr { return nil }

package openssh

import "syscall"

// hasPdeathsig says that the kernel can end a child when its parent dies.
const hasPdeathsig = true

// masterSysProcAttr starts the master in a new session, so it has no
// controlling terminal (it can never stop on a tty read, and a Ctrl-C aimed
// at the program does not reach it) and leads its own process group. With
// pdeathsig, the kernel kills it when the thread that started it dies, so a
// crashed program never leaves a master behind.
func masterSysProcAttr(pdeathsig bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true}
	if pdeathsig {
		a.Pdeathsig = syscall.SIGTERM
	}
	return a
}

// slaveSysProcAttr is the process setup of slave ssh processes: the kernel
// ends them with the program.
func slaveSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package openssh

import (
	"os"
	"syscall"
	"unsafe"
)

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

// makeRaw puts the terminal f in raw mode, as ssh does with its own
// terminal for a tty session, and returns a func that restores the modes.
// It fails when f is not a terminal.
func makeRaw(f *os.File) (func(), error) {
	fd := f.Fd()
	var old syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&old))); e != 0 {
		return nil, e
	}
	t := old
	t.Iflag |= syscall.IGNPAR
	t.Iflag &^= syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON | syscall.IXANY | syscall.IXOFF | syscall.IUCLC
	t.Lflag &^= syscall.ISIG | syscall.ICANON | syscall.ECHO | syscall.ECHOE | syscall.ECHOK | syscall.ECHONL | syscall.IEXTEN
	t.Oflag &^= syscall.OPOST
	t.Cc[syscall.VMIN] = 1
	t.Cc[syscall.VTIME] = 0
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&t))); e != 0 {
		return nil, e
	}
	return func() {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&old)))
	}, nil
}

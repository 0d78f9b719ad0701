//go:build unix && !linux

package openssh

import (
	"os"
	"syscall"
)

// masterSysProcAttr starts the master in a new session, so it has no
// controlling terminal and leads its own process group. There is no
// Pdeathsig outside Linux.
func masterSysProcAttr(bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// slaveSysProcAttr is the process setup of slave ssh processes.
func slaveSysProcAttr() *syscall.SysProcAttr { return nil }

// makeRaw is not implemented outside Linux: a tty session of the mux
// transport leaves the local terminal's modes alone.
func makeRaw(*os.File) (func(), error) { return nil, syscall.ENOTSUP }

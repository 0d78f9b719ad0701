//go:build !linux

package openssh

import "os/exec"

// startMasterChild starts a master process. Only Linux keeps an fd per child
// (a pidfd) that a master does not need: elsewhere it is startChild.
func startMasterChild(cmd *exec.Cmd, group bool) (*child, error) {
	return startChild(cmd, group)
}

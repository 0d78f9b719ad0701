//go:build linux

package openssh

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// startMasterChild starts a master process. On Linux, os/exec keeps a pidfd
// for every child it starts (Go 1.23 and later) until Wait: one fd per master
// for as long as the master runs, which a program holding a thousand masters
// pays a thousand times. A master's stdio are all files, so nothing of
// os/exec is needed after the start: the process is started with
// syscall.ForkExec and reaped by pid. The pid cannot be reused before the
// reaping, and Signal and the reaping exclude each other (the reaper first
// waits with WNOWAIT, then reaps under the lock), so a signal never reaches
// another process. A cmd with a stdio that is not an *os.File goes through
// startChild.
func startMasterChild(cmd *exec.Cmd, group bool) (*child, error) {
	if cmd.Err != nil {
		return nil, fmt.Errorf("unable to start %s: %w", cmd.Args[0], cmd.Err)
	}
	files := []*os.File{nil, nil, nil}
	for i, s := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		if s == nil {
			continue
		}
		f, ok := s.(*os.File)
		if !ok || f == nil {
			return startChild(cmd, group)
		}
		files[i] = f
	}
	var null *os.File
	for i, f := range files {
		if f != nil {
			continue
		}
		if null == nil {
			var err error
			if null, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
				return nil, fmt.Errorf("unable to start %s: %w", cmd.Args[0], err)
			}
			defer null.Close()
		}
		files[i] = null
	}
	files = append(files, cmd.ExtraFiles...)
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	sys := cmd.SysProcAttr
	if sys == nil {
		sys = slaveSysProcAttr()
	}
	pid, err := syscall.ForkExec(cmd.Path, cmd.Args, &syscall.ProcAttr{Dir: cmd.Dir, Env: env, Files: fds, Sys: sys})
	// Every file (and so its fd) stays open until the child has its copy.
	runtime.KeepAlive(files)
	if err != nil {
		return nil, fmt.Errorf("unable to start %s: %w", cmd.Args[0], &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: err})
	}
	ch := &child{cmd: cmd, group: group, done: make(chan struct{}), pid: pid, lean: true}
	go ch.reap()
	return ch, nil
}

// reap waits for a lean child to exit and reaps it.
func (ch *child) reap() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, ch.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	ch.mu.Lock()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(ch.pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	ch.reaped = true
	ch.mu.Unlock()
	if ws.Exited() && ws.ExitStatus() == 0 {
		ch.err = nil
	} else {
		ch.err = &waitStatusError{ws}
	}
	close(ch.done)
}

// waitStatusError is the error of a lean child that did not exit 0: its
// text is os/exec's ("exit status 255", "signal: killed").
type waitStatusError struct{ ws syscall.WaitStatus }

func (e *waitStatusError) Error() string {
	switch {
	case e.ws.Exited():
		return "exit status " + strconv.Itoa(e.ws.ExitStatus())
	case e.ws.Signaled():
		s := "signal: " + e.ws.Signal().String()
		if e.ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return "wait status " + strconv.Itoa(int(e.ws))
}

// ExitCode returns the exit code, or -1 when the process was killed by a
// signal, as os.ProcessState.ExitCode does.
func (e *waitStatusError) ExitCode() int {
	if e.ws.Exited() {
		return e.ws.ExitStatus()
	}
	return -1
}

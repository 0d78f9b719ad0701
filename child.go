package openssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// child is one local process the library starts: the master, a slave ssh
// (command, tunnel, SFTP, control request), scp, rsync or an sshfs half.
// Every such process is started, stopped and reaped the same way:
//
//   - startChild starts it and reaps it in a goroutine of its own, so Done
//     is a channel every watcher can select on and nobody else calls
//     exec.Cmd.Wait;
//   - Stop is the one stop sequence: SIGTERM, the grace period, SIGKILL,
//     then the reaping (to the process group when the child leads one);
//   - a copy of its output by os/exec that outlives copyGrace after the
//     exit is cut, and a successful exit stays a success then.
type child struct {
	cmd   *exec.Cmd
	group bool          // the child leads its own process group: signal it all
	done  chan struct{} // closed once the process has been reaped
	err   error         // exec.Cmd.Wait's error, set before done is closed

	// A lean child (startMasterChild on Linux) was started without os/exec
	// and is reaped by pid: cmd only describes it.
	lean   bool
	pid    int
	mu     sync.Mutex // held by Signal and by the reaping
	reaped bool
}

// copyGrace bounds how long the output of a child that has exited is still
// copied (os/exec's WaitDelay). Only a grandchild that kept the pipe open
// makes the copy last; under heavy load a goroutine may take a second to
// run, so the bound is generous.
const copyGrace = 10 * time.Second

// startChild starts cmd as a child of the library. A nil SysProcAttr gets
// the slave setup (the kernel ends the process with the program, where it
// can); group says that the process leads its own process group (Setsid or
// Setpgid in SysProcAttr), whose members are signalled with it.
func startChild(cmd *exec.Cmd, group bool) (*child, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = slaveSysProcAttr()
	}
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = copyGrace
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("unable to start %s: %w", cmd.Args[0], err)
	}
	ch := &child{cmd: cmd, group: group, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
			// The process succeeded; a grandchild held its output.
			err = nil
		}
		ch.err = err
		close(ch.done)
	}()
	return ch, nil
}

// Pid returns the process id.
func (ch *child) Pid() int {
	if ch.lean {
		return ch.pid
	}
	return ch.cmd.Process.Pid
}

// Process returns the *os.Process; nil for a lean child.
func (ch *child) Process() *os.Process {
	if ch.lean {
		return nil
	}
	return ch.cmd.Process
}

// Done is closed once the process has been reaped.
func (ch *child) Done() <-chan struct{} { return ch.done }

// Exited reports whether the process has been reaped.
func (ch *child) Exited() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// Wait waits for the reaping and returns exec.Cmd.Wait's error.
func (ch *child) Wait() error {
	<-ch.done
	return ch.err
}

// State returns the process state once reaped, or nil (always nil for a
// lean child).
func (ch *child) State() *os.ProcessState {
	if ch.lean || !ch.Exited() {
		return nil
	}
	return ch.cmd.ProcessState
}

// Signal sends sig to the process (and its group when it leads one),
// unless it has been reaped: a reaped pid may belong to another process.
func (ch *child) Signal(sig syscall.Signal) {
	if ch.lean {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if ch.reaped {
			return
		}
		if ch.group {
			_ = syscall.Kill(-ch.pid, sig)
		}
		_ = syscall.Kill(ch.pid, sig)
		return
	}
	if ch.Exited() {
		return
	}
	if ch.group {
		_ = syscall.Kill(-ch.Pid(), sig)
	}
	_ = ch.cmd.Process.Signal(sig)
}

// Stop ends the process: SIGTERM, then SIGKILL when it has not exited
// after grace. It returns once the process has been reaped.
func (ch *child) Stop(grace time.Duration) {
	if ch.Exited() {
		return
	}
	ch.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-ch.done:
		return
	case <-t.C:
	}
	ch.Signal(syscall.SIGKILL)
	<-ch.done
}

// StopAfter gives the process wait to exit by itself, then stops it with
// the given grace.
func (ch *child) StopAfter(wait, grace time.Duration) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ch.done:
		case <-t.C:
		}
		t.Stop()
	}
	ch.Stop(grace)
}

// socketPair returns the two ends of a connected Unix stream socketpair,
// both close-on-exec (os/exec clears the flag on the end it hands a child).
func socketPair() (*os.File, *os.File, error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "socketpair"), os.NewFile(uintptr(fds[1]), "socketpair"), nil
}

// runChild runs cmd to its end as a child of the library, with its stdio as
// set. When ctx is done first the process is stopped (1 s grace) and ctx's
// error is returned.
func runChild(ctx context.Context, cmd *exec.Cmd) error {
	ch, err := startChild(cmd, false)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { ch.Stop(time.Second) })
	err = ch.Wait()
	if !stop() && err != nil {
		return ctx.Err()
	}
	return err
}

package openssh

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// watchdogScript ends the process group $1 when its stdin reaches EOF,
// which happens when the program that holds the pipe's only write end dies,
// however it dies (a crash, SIGKILL). A line on stdin dismisses it. It
// ignores the signals a terminal or a group kill would send it, so it
// outlives the program that started it, which is its whole point.
const watchdogScript = `trap '' HUP INT QUIT TERM PIPE
if read -r _; then exit 0; fi
kill -TERM -"$1" 2>/dev/null || exit 0
sleep 3
kill -KILL -"$1" 2>/dev/null
exit 0`

// watchdog ties a master to this process where the kernel's parent-death
// signal is not used (outside Linux, or with Options.NoPdeathsig): a small
// /bin/sh, in a session of its own, holds the read end of a pipe whose
// write end only this process holds, and ends the master's process group
// (SIGTERM, then SIGKILL after 3 s) when that pipe reports EOF. It costs
// one sh process per master and nothing while the program runs.
type watchdog struct {
	w    *os.File
	proc *child
	once sync.Once
}

// startWatchdog starts the watchdog of the process group pgid.
func startWatchdog(pgid int) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "goopenssh-watchdog", strconv.Itoa(pgid))
	cmd.Stdin = r
	// Its own session: no terminal signal reaches it, and no Pdeathsig
	// (which would end it together with the program it has to outlive).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	p, err := startChild(cmd, false)
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	return &watchdog{w: w, proc: p}, nil
}

// dismiss tells the watchdog to exit without touching the master and waits
// (briefly) until it has. It is idempotent and safe on a nil watchdog.
func (d *watchdog) dismiss() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		d.w.Write([]byte("\n"))
		d.w.Close()
		select {
		case <-d.proc.Done():
		case <-time.After(2 * time.Second):
			d.proc.Stop(0)
		}
	})
}

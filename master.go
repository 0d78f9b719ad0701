package openssh

import (
	"log/slog"
	"os/exec"
	"sync"
)

// Master is one ssh master connection (ControlMaster) to one host. Every
// operation runs through it as a slave session. A Master is safe for
// concurrent use by many goroutines.
type Master struct {
	opts     Options
	user     string // "" means ssh decides
	host     string // without brackets
	port     int    // 0 means ssh decides
	password []byte // from the target or Options; only for the login
	sshArgv  []string
	ctlPath  string
	external bool
	quoter   Quoter
	vars     *varTable
	log      *slog.Logger
	sessions chan struct{} // MaxSessions semaphore; nil means no limit

	mu      sync.Mutex
	state   masterState
	err     error // sticky master failure
	proc    *exec.Cmd
	pid     int
	exited  chan struct{} // closed when the master process has been reaped
	disowned bool
}

type masterState int

package openssh

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/goopenssh/openssh/internal/mux"
)

// The transport seam. A Master picks its backend once, in New, from
// Options.Transport; the feature code (Cmd, SFTP, tunnels, forwards) asks
// the backend and never which transport it has:
//
//	Master ──▶ backend: startSession · check · stop · exit · forward ·
//	           cancelForward · dialStdio
//	              ├── procBackend (backend_proc.go): slave ssh processes
//	              └── muxBackend  (backend_mux.go): control connections
//
// Both backends ask the master whether it is alive, tell it to stop
// listening and tell it to exit over one control connection the Master
// keeps open (ctlConn below): those requests need no process, and an
// "ssh -O check" started under heavy load could lose its output (a live
// master was then declared dead).
type backend interface {
	// startSession opens a session (a command, a login shell or a
	// subsystem) whose stdio are the given files; the files can be
	// closed once it returns.
	startSession(ctx context.Context, req *sessionReq) (session, error)
	// forward and cancelForward ask the master to open or close a port
	// forward; forward returns the port allocated for a remote forward
	// of port 0.
	forward(ctx context.Context, spec ForwardSpec) (int, error)
	cancelForward(ctx context.Context, spec ForwardSpec) error
	// dialStdio opens a stdio forward ("ssh -W") to ep and returns our end
	// of it.
	dialStdio(ctx context.Context, op string, ep mux.Endpoint, raddr net.Addr) (net.Conn, error)
}

// sessionReq is what a session is opened with.
type sessionReq struct {
	line       string // the remote command line, or the subsystem's name
	hasCommand bool   // false: the login shell
	subsystem  bool
	tty        bool
	ownTTY     bool // stdin is the pty the library made (StartPty): no raw mode to restore
	ttyCtl     bool // stdin is a pty to be the local ssh's controlling terminal
	agent, x11 bool
	sshOpts    []string // options of the local ssh (process backend only)

	stdin, stdout, stderr *os.File // nil is /dev/null
}

// session is one running session, whatever carries it.
type session interface {
	// wait waits for the session to end.
	wait()
	// exitError classifies the end, once wait has returned and the
	// streams are copied, as the process transport always has: nil, an
	// [*ExitError], or an [*Error] (session refused, master gone).
	exitError(c *Cmd) error
	// end ends the session from our side before it is over: the local
	// ssh gets SIGTERM and, after grace, SIGKILL; a control connection
	// is closed.
	end(grace time.Duration)
	// done is closed when the session has ended.
	done() <-chan struct{}
	// winch makes the master read the size of the session's terminal
	// again, after it was changed.
	winch() error
	// linger is how long a session slot stays taken after the end.
	linger() time.Duration
	// process is the local ssh, or nil; state is its state once reaped.
	process() *os.Process
	state() *os.ProcessState
}

// newBackend returns the backend of Options.Transport.
func (m *Master) newBackend() backend {
	if m.opts.Transport == TransportMux {
		return &muxBackend{m: m}
	}
	return &procBackend{m: m}
}

// ctlConn is the control connection a Master keeps open for its own
// requests (alive check, stop, exit, and forwards over TransportMux). An
// alive check on an open connection takes microseconds.
//
// The master counts the connection as a client: after a stop it must go,
// or the master would never exit when its last session ends. Once
// stopped, the connection is closed and never dialled again.
type ctlConn struct {
	path    string
	mu      sync.Mutex
	c       *mux.Conn
	stopped bool
	pid     int // the master's pid, from the last alive check
}

// do runs fn on the kept connection. A connection that fails for another
// reason than the master's refusal of the request is dropped and, once,
// dialled again: the master may have been restarted since.
func (k *ctlConn) do(ctx context.Context, fn func(*mux.Conn) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for attempt := 0; ; attempt++ {
		fresh := false
		if k.c == nil {
			if k.stopped {
				return mux.ErrMasterGone
			}
			c, err := mux.Dial(ctx, k.path)
			if err != nil {
				return err
			}
			k.c = c
			fresh = true
		}
		err := fn(k.c)
		if err == nil {
			return nil
		}
		var re *mux.ReplyError
		if errors.As(err, &re) || errors.Is(err, mux.ErrInvalid) {
			return err
		}
		k.c.Close()
		k.c = nil
		if fresh || attempt > 0 || ctx.Err() != nil {
			return err
		}
	}
}

// alive asks the master for its pid.
func (k *ctlConn) alive(ctx context.Context) (int, error) {
	var pid int
	err := k.do(ctx, func(c *mux.Conn) error {
		var err error
		pid, err = c.AliveCheck(ctx)
		return err
	})
	if err == nil {
		k.mu.Lock()
		k.pid = pid
		k.mu.Unlock()
	}
	return pid, err
}

// masterPID returns the pid the master last reported, or 0.
func (k *ctlConn) masterPID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pid
}

// stop asks the master to stop listening, then lets go of the connection.
func (k *ctlConn) stop(ctx context.Context) error {
	err := k.do(ctx, func(c *mux.Conn) error { return c.StopListening(ctx) })
	if err == nil {
		k.mu.Lock()
		k.stopped = true
		k.mu.Unlock()
		k.drop()
	}
	return err
}

// exit asks the master to exit at once.
func (k *ctlConn) exit(ctx context.Context) error {
	return k.do(ctx, func(c *mux.Conn) error { return c.Terminate(ctx) })
}

// drop closes the kept connection.
func (k *ctlConn) drop() {
	k.mu.Lock()
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
	k.mu.Unlock()
}

// reset drops the connection and allows dialling again (Restart).
func (k *ctlConn) reset() {
	k.drop()
	k.mu.Lock()
	k.stopped = false
	k.pid = 0
	k.mu.Unlock()
}

// ctlDetail words a failure to reach the master for an Error's Detail:
// what failed on which socket, without the layers of the dial.
func ctlDetail(path string, err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "control socket " + path + ": " + errno.Error()
	}
	return muxDetail(err)
}

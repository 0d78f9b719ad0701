package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// SessionRequest describes a new session (MUX_C_NEW_SESSION).
type SessionRequest struct {
	// Command is the remote command line, or the subsystem name when
	// Subsystem is set. Empty runs the login shell.
	Command string
	// Subsystem requests the subsystem named by Command (like ssh -s).
	Subsystem bool
	// TTY requests a pseudo-terminal; the master reads the terminal modes
	// from the stdin file, which should then be a terminal.
	TTY bool
	// Term is the terminal type sent with a TTY request (usually $TERM).
	Term string
	// X11 and Agent request X11 and agent forwarding; the master honours
	// them only if it was started with ForwardX11 / ForwardAgent.
	X11, Agent bool
	// EscapeChar is the escape character for a TTY session (like ssh -e);
	// 0 means none, which is what a program wants.
	EscapeChar byte
	// Env are "NAME=value" entries. The master forwards only those whose
	// name matches its own SendEnv patterns, and the server only accepts
	// those allowed by its AcceptEnv; the rest are dropped silently.
	Env []string
}

// message validates r and builds its MUX_C_NEW_SESSION message.
func (r *SessionRequest) message(id uint32) (*message, error) {
	if r.Subsystem && r.Command == "" {
		return nil, fmt.Errorf("%w: a subsystem request needs the subsystem name in Command", ErrInvalid)
	}
	if len(r.Env) > maxEnv {
		return nil, fmt.Errorf("%w: more than %d environment entries", ErrInvalid, maxEnv)
	}
	for _, e := range r.Env {
		if i := strings.IndexByte(e, '='); i <= 0 {
			return nil, fmt.Errorf("%w: environment entry %q is not NAME=value", ErrInvalid, e)
		}
	}
	esc := uint32(escapeNone)
	if r.EscapeChar != 0 {
		esc = uint32(r.EscapeChar)
	}
	return &message{
		typ: cNewSession, id: id,
		tty: r.TTY, x11: r.X11, agent: r.Agent, subsys: r.Subsystem,
		escape: esc, term: r.Term, command: r.Command, env: r.Env,
	}, nil
}

// NewSession asks the master to open a session and passes it stdin, stdout
// and stderr (a nil file stands for /dev/null). It returns once the server
// has confirmed the channel. The connection then belongs to the session:
// other requests on it fail with [ErrConnBusy], and closing it ends the
// session.
//
// The files are passed by SCM_RIGHTS and put in blocking mode (see
// [os.File.Fd]), so use files dedicated to the session, as with
// [os/exec.Cmd]: typically the child ends of pipes, which the caller closes
// once NewSession returns. While the session runs, the master makes non-tty
// files non-blocking and restores their flags when it ends.
//
// A refusal gives a [*ReplyError] matching [ErrSessionRefused] (and
// [ErrRequestFailed] or [ErrPermissionDenied]); the master then closes the
// connection.
func (c *Conn) NewSession(ctx context.Context, req SessionRequest, stdin, stdout, stderr *os.File) (*Session, error) {
	id, err := c.begin()
	if err != nil {
		return nil, fmt.Errorf("mux: %s: %w", opNewSession, err)
	}
	defer c.mu.Unlock()
	m, err := req.message(id)
	if err != nil {
		return nil, fmt.Errorf("mux: %s: %w", opNewSession, err)
	}
	reply, err := c.exchange(ctx, opNewSession, m, []*os.File{stdin, stdout, stderr})
	if err != nil {
		closeIfRefused(c, err)
		return nil, err
	}
	if reply.typ != sSessionOpened {
		return nil, c.unexpected(opNewSession, reply)
	}
	c.busy = true
	return &Session{w: newWaiter(c, reply.value, true)}, nil
}

// NewStdioForward asks the master to connect to target from the server
// (like ssh -W) and passes stdin and stdout (nil stands for /dev/null): data
// written into the master's copy of stdin goes to the target, and what the
// target sends is written to stdout. It returns once the server has
// confirmed the channel; the connection then carries the forward until it
// ends or the connection is closed. A Unix socket target is given by
// Endpoint.Path.
func (c *Conn) NewStdioForward(ctx context.Context, target Endpoint, stdin, stdout *os.File) (*StdioForward, error) {
	id, err := c.begin()
	if err != nil {
		return nil, fmt.Errorf("mux: %s: %w", opStdioFwd, err)
	}
	defer c.mu.Unlock()
	host, port, err := target.wire("connect")
	if err != nil {
		return nil, fmt.Errorf("mux: %s: %w", opStdioFwd, err)
	}
	if host == "" {
		return nil, fmt.Errorf("mux: %s: %w: missing host or path", opStdioFwd, ErrInvalid)
	}
	m := &message{typ: cNewStdioFwd, id: id, connectHost: host, connectPort: port}
	reply, err := c.exchange(ctx, opStdioFwd, m, []*os.File{stdin, stdout})
	if err != nil {
		closeIfRefused(c, err)
		return nil, err
	}
	if reply.typ != sSessionOpened {
		return nil, c.unexpected(opStdioFwd, reply)
	}
	c.busy = true
	return &StdioForward{w: newWaiter(c, reply.value, false)}, nil
}

// closeIfRefused closes c after a refused session or stdio forward: mux.c
// closes the control connection then too (the channel's cleanup closes it).
func closeIfRefused(c *Conn, err error) {
	var re *ReplyError
	if errors.As(err, &re) {
		c.Close()
	}
}

// Session is a session opened by [Conn.NewSession]. Call [Session.Wait] or
// [Session.Close] to release it.
type Session struct{ w *waiter }

// StdioForward is a stdio forward opened by [Conn.NewStdioForward]. Call
// [StdioForward.Wait] or [StdioForward.Close] to release it.
type StdioForward struct{ w *waiter }

// Wait waits for the session to end and returns the remote exit status.
// After a MUX_S_EXIT_MESSAGE it still waits for the master to close the
// control connection, so that all output has reached the files passed to
// [Conn.NewSession]. The errors are:
//   - [ErrNoExitMessage]: the master closed the connection without an exit
//     status and is still alive, e.g. because a signal killed the remote
//     process (mux.c does not relay "exit-signal");
//   - [ErrMasterGone]: the master died or closed the connection and no longer
//     answers;
//   - [ErrConnClosed]: the session was closed with [Session.Close];
//   - [ErrProtocol]: the master sent something unexpected;
//   - ctx's error: the context ended first; the connection is then closed,
//     which gives the remote process EOF on its input, and later calls
//     return [ErrConnClosed].
//
// The status is -1 with any error. Wait may be called more than once.
func (s *Session) Wait(ctx context.Context) (int, error) {
	if err := s.w.wait(ctx); err != nil {
		return -1, err
	}
	return s.w.status, nil
}

// Wait waits for the forward to end: the channel closed and the master
// closed the control connection. It returns nil then, [ErrMasterGone] when
// the master is gone, [ErrConnClosed] after [StdioForward.Close], or ctx's
// error (the forward is then closed).
func (f *StdioForward) Wait(ctx context.Context) error { return f.w.wait(ctx) }

// ID returns the session id: the master's channel number for the session.
func (s *Session) ID() uint32 { return s.w.id }

// TTYAllocFailed reports whether the master sent MUX_S_TTY_ALLOC_FAIL: a
// TTY was requested but the server could not allocate one, and the session
// runs without it. It is final once [Session.Wait] has returned.
func (s *Session) TTYAllocFailed() bool { return s.w.ttyFail.Load() }

// Close closes the control connection, abandoning the session: the remote
// side gets EOF on its input, and the master stops copying its output. A
// pending [Session.Wait] returns [ErrConnClosed] unless the exit status had
// already arrived. Close is idempotent.
func (s *Session) Close() error { return s.w.c.Close() }

// Done returns a channel that is closed when the session has ended (and
// Wait no longer blocks).
func (s *Session) Done() <-chan struct{} { return s.w.done }

// Done returns a channel that is closed when the forward has ended.
func (f *StdioForward) Done() <-chan struct{} { return f.w.done }

// ID returns the master's channel number for the forward.
func (f *StdioForward) ID() uint32 { return f.w.id }

// Close closes the control connection, which ends the forward. Close is
// idempotent.
func (f *StdioForward) Close() error { return f.w.c.Close() }

// waiter follows a control connection that carries a session or a stdio
// forward until the master closes it.
type waiter struct {
	c       *Conn
	id      uint32
	session bool
	ttyFail atomic.Bool
	done    chan struct{}
	status  int
	err     error
}

func newWaiter(c *Conn, id uint32, session bool) *waiter {
	w := &waiter{c: c, id: id, session: session, done: make(chan struct{})}
	go w.run()
	return w
}

func (w *waiter) wait(ctx context.Context) error {
	select {
	case <-w.done:
		return w.err
	default:
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		w.c.Close()
		<-w.done
		if w.err == nil {
			return nil
		}
		return fmt.Errorf("mux: wait: %w", ctx.Err())
	}
}

// probeTimeout bounds the alive check that tells a live master from a dead
// one when a session ends without an exit message.
const probeTimeout = 2 * time.Second

// run reads the control connection until the master closes it.
func (w *waiter) run() {
	defer close(w.done)
	defer w.c.Close()
	what := "session"
	if !w.session {
		what = "stdio forward"
	}
	exitSeen := false
	var rerr error
	for {
		body, err := readFrame(w.c.uc)
		if err != nil {
			rerr = err
			break
		}
		m, err := decode(body)
		if err != nil {
			rerr = fmt.Errorf("%w: %w", ErrProtocol, err)
			break
		}
		if (m.typ != sExitMessage && m.typ != sTTYAllocFail) || !w.session {
			rerr = fmt.Errorf("%w: unexpected %s", ErrProtocol, msgName(m.typ))
			break
		}
		if m.id != w.id {
			rerr = fmt.Errorf("%w: %s for session %d, expected %d", ErrProtocol, msgName(m.typ), m.id, w.id)
			break
		}
		if m.typ == sTTYAllocFail {
			w.ttyFail.Store(true)
			continue
		}
		if exitSeen {
			rerr = fmt.Errorf("%w: exit message sent twice", ErrProtocol)
			break
		}
		exitSeen = true
		w.status = int(m.value)
	}
	switch {
	case exitSeen:
		// The status arrived: whatever ended the connection afterwards,
		// the session is over.
	case w.c.closed.Load():
		w.err = fmt.Errorf("mux: %s %d: %w", what, w.id, ErrConnClosed)
	case errors.Is(rerr, ErrProtocol):
		w.err = fmt.Errorf("mux: %s %d: %w", what, w.id, rerr)
	case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF),
		errors.Is(rerr, syscall.ECONNRESET), errors.Is(rerr, syscall.EPIPE):
		if !masterAlive(w.c.path) {
			w.err = fmt.Errorf("mux: %s %d: %w", what, w.id, ErrMasterGone)
		} else if w.session {
			w.err = fmt.Errorf("mux: %s %d: %w", what, w.id, ErrNoExitMessage)
		}
	default:
		w.err = fmt.Errorf("mux: %s %d: %w", what, w.id, rerr)
	}
}

// masterAlive reports whether a master answers an alive check on path.
func masterAlive(path string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.AliveCheck(ctx)
	return err == nil
}

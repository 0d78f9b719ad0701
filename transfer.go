package openssh

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// What scp and rsync share: the Transfer that runs their process, and the
// limiter of sessions (Options.MaxSessions) that every operation opening a
// session takes a slot of.

// Transfer is a running scp or rsync process, from the *Async methods.
type Transfer struct {
	op     string
	host   string
	proc   *child
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Wait waits for the transfer to finish and returns its error, as the
// synchronous method would have. It may be called more than once, from any
// goroutine.
func (t *Transfer) Wait() error {
	<-t.done
	return t.err
}

// Done returns a channel closed when the transfer has finished (and Wait
// no longer blocks).
func (t *Transfer) Done() <-chan struct{} { return t.done }

// Pid returns the process id of the local scp or rsync.
func (t *Transfer) Pid() int { return t.proc.Pid() }

// String returns the command line being run, quoted for a shell.
func (t *Transfer) String() string {
	s, _ := ShellQuote(t.proc.cmd.Args...)
	return s
}

// transferSpec describes one scp or rsync run.
type transferSpec struct {
	op      string // "scp get", "rsync put", ...
	program string // "scp", "rsync": named by the ExitError
	argv    []string
	stdout  io.Writer
	stderr  io.Writer
	timeout time.Duration
	env     []string // nil: inherit
	// exitMsg gives the meaning of an exit code, for the error.
	exitMsg func(code int) string
	// measure, with progress, feeds a poller while the process runs;
	// final gives the figures at a successful end.
	progress ProgressFunc
	measure  func() (int64, int64)
	final    func() (int64, int64)
}

// acquireSession takes a MaxSessions slot, waiting for one as long as ctx
// allows. The returned function gives it back.
func (m *Master) acquireSession(ctx context.Context, op string) (func(), error) {
	if m.sessions == nil {
		return func() {}, nil
	}
	select {
	case m.sessions <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-m.sessions }) }, nil
	case <-ctx.Done():
		return nil, ctxError(ctx.Err(), op, m.host)
	}
}

// ctxError turns a context error into an [*Error]: a deadline is a slave
// timeout, a cancellation a slave failure.
func ctxError(err error, op, host string) error {
	code := CodeSlaveFailed
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeSlaveTimeout
	}
	return &Error{Code: code, Op: op, Host: host, Err: err}
}

// startTransfer waits for the master, takes a session slot and starts the
// process of s. The returned Transfer releases everything when the process
// has been reaped.
func (m *Master) startTransfer(ctx context.Context, s transferSpec) (*Transfer, error) {
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	release, err := m.acquireSession(ctx, s.op)
	if err != nil {
		return nil, err
	}
	tctx, cancel := ctx, context.CancelFunc(func() {})
	if s.timeout > 0 {
		tctx, cancel = context.WithTimeout(ctx, s.timeout)
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.WaitDelay = 2 * time.Second
	cmd.Stdout = s.stdout
	cmd.Env = s.env
	tail := newTailBuffer(8 << 10)
	if s.stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, s.stderr)
	} else {
		cmd.Stderr = tail
	}
	ch, err := startChild(cmd, false)
	if err != nil {
		cancel()
		release()
		return nil, &Error{Code: CodeSlaveFailed, Op: s.op, Host: m.host, Err: err}
	}
	m.log.Debug("openssh: transfer started", "host", m.host, "op", s.op, "pid", ch.Pid(), "argv", s.argv)
	t := &Transfer{op: s.op, host: m.host, proc: ch, cancel: cancel, done: make(chan struct{})}
	var pl *poller
	if s.progress != nil && s.measure != nil {
		pl = startPoller(s.progress, s.measure)
	}
	// ctx (and the timeout) end the process: SIGTERM, SIGKILL 2 s later.
	stop := context.AfterFunc(tctx, func() { ch.Stop(2 * time.Second) })
	go func() {
		werr := ch.Wait()
		stop()
		release()
		t.err = m.transferError(ctx, tctx, s, werr, tail)
		cancel()
		if pl != nil {
			if t.err == nil {
				pl.stop(s.final)
			} else {
				pl.stop(nil)
			}
		}
		m.log.Debug("openssh: transfer reaped", "host", m.host, "op", s.op, "pid", ch.Pid(), "err", t.err)
		close(t.done)
	}()
	return t, nil
}

// transferError classifies the end of a transfer process.
func (m *Master) transferError(ctx, tctx context.Context, s transferSpec, werr error, tail *tailBuffer) error {
	if werr == nil {
		return nil
	}
	if tctx.Err() != nil {
		err := tctx.Err()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		e := ctxError(err, s.op, m.host).(*Error)
		e.Detail = lastLine(tail.Bytes())
		return e
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		return &Error{Code: CodeSlaveFailed, Op: s.op, Host: m.host, Err: werr}
	}
	if err := m.alive(); err != nil {
		return err
	}
	code := ee.ExitCode()
	xe := &ExitError{Code: code, Stderr: tail.Bytes(), Host: m.host, Program: s.program, ProcessState: ee.ProcessState}
	xe.Cmd, _ = ShellQuote(s.argv...)
	if code < 0 {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			xe.Signal = ws.Signal().String()
		}
	}
	if s.exitMsg != nil {
		xe.Msg = s.exitMsg(code)
	}
	return xe
}

// sessionLinger is how long a session slot stays taken after a session of
// the process transport has ended (see procSession.linger).
const sessionLinger = 25 * time.Millisecond

// releaseSessionAfter frees a MaxSessions slot after d.
func (m *Master) releaseSessionAfter(d time.Duration) {
	if d <= 0 {
		<-m.sessions
		return
	}
	time.AfterFunc(d, func() { <-m.sessions })
}

package openssh

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/goopenssh/openssh/internal/mux"
)

// muxBackend is TransportMux: sessions, stdio forwards and forward
// requests go over the control socket (PROTOCOL.mux), with no process.
type muxBackend struct{ m *Master }

// startSession opens the session over a control connection of its own
// (mux.c allows one session per connection) and passes it the three files,
// which the master reads and writes directly.
//
// A session the server refuses is asked for again a few times over about
// 300 ms: sshd frees a session a moment after its exit status is sent, so a
// refusal is often a race that a retry wins (nothing was read from the
// files yet).
func (b *muxBackend) startSession(ctx context.Context, r *sessionReq) (session, error) {
	m := b.m
	req := mux.SessionRequest{
		Command:   r.line,
		Subsystem: r.subsystem,
		TTY:       r.tty,
		X11:       r.x11,
		Agent:     r.agent,
	}
	if r.tty {
		req.Term = os.Getenv("TERM")
	}
	var s *mux.Session
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		conn, err := mux.Dial(ctx, m.ctlPath)
		if err != nil {
			return nil, m.muxStartError(ctx, err)
		}
		s, err = conn.NewSession(ctx, req, r.stdin, r.stdout, r.stderr)
		if err == nil {
			break
		}
		conn.Close()
		var re *mux.ReplyError
		if !errors.As(err, &re) || re.Denied || wait > 160*time.Millisecond {
			return nil, m.muxStartError(ctx, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, m.muxStartError(ctx, err)
		}
	}
	ms := &muxSession{m: m, s: s, status: -1}
	if r.ownTTY && r.stdin != nil {
		// Closing the pty hangs the command up, as with a local ssh.
		if err := watchHangup(r.stdin, s.Done(), func() { ms.hungUp.Store(true); s.Close() }); err != nil {
			s.Close()
			return nil, &Error{Code: CodeSlavePipeFailed, Op: "command", Host: m.host, Err: err}
		}
	}
	if r.tty && r.stdin != nil {
		// ssh puts its terminal in raw mode for a tty session, once the
		// master has read the modes to send; the master does not, so do
		// it here. A stdin that is not a terminal is left alone.
		if restore, err := makeRaw(r.stdin); err == nil && !r.ownTTY {
			ms.unraw = restore
		}
	}
	m.log.Debug("openssh: session started", "host", m.host, "transport", "mux", "cmd", r.line)
	return ms, nil
}

// muxSession is a session carried by a control connection.
type muxSession struct {
	m      *Master
	s      *mux.Session
	unraw  func() // restores the caller's terminal
	hungUp atomic.Bool
	status int
	err    error
}

func (s *muxSession) wait() {
	s.status, s.err = s.s.Wait(context.Background())
	if s.unraw != nil {
		s.unraw()
		s.unraw = nil
	}
}

// end closes the control connection, which is what killing the local ssh
// amounts to: the master gives the remote command EOF on its input and
// stops copying its output.
func (s *muxSession) end(time.Duration) { s.s.Close() }

func (s *muxSession) done() <-chan struct{} { return s.s.Done() }

// The master closes the control connection only after the channel is
// closed on both sides: sshd has freed the session by then (and a refused
// one is retried anyway).
func (s *muxSession) linger() time.Duration   { return 0 }
func (s *muxSession) process() *os.Process    { return nil }
func (s *muxSession) state() *os.ProcessState { return nil }

// winch does what the ssh mux client does on SIGWINCH
// (control_client_sigrelay in mux.c): it sends the signal to the master,
// which then reads the size of every session's tty and sends the changes.
func (s *muxSession) winch() error {
	pid := s.m.MasterPID()
	if pid == 0 {
		pid = s.m.ctl.masterPID()
	}
	if pid == 0 {
		p, err := s.m.ctl.alive(context.Background())
		if err != nil {
			return err
		}
		pid = p
	}
	return syscall.Kill(pid, syscall.SIGWINCH)
}

// exitError is the error of a session that ended, as the process
// transport reports it: the remote status as an [*ExitError], including
// the 255 that a remote process killed by a signal gives there.
func (s *muxSession) exitError(c *Cmd) error {
	m := c.m
	exit := func(code int) error {
		if code == 0 {
			return nil
		}
		ee := &ExitError{Code: code, Host: m.host, Cmd: c.line}
		if c.libErr && c.sshTail != nil {
			ee.Stderr = c.sshTail.Bytes()
		}
		return ee
	}
	werr := s.err
	switch {
	case s.hungUp.Load() && werr != nil:
		// As the local ssh that gets SIGHUP: status 255.
		return exit(255)
	case werr == nil:
		return exit(s.status)
	case errors.Is(werr, mux.ErrNoExitMessage):
		// mux.c does not relay "exit-signal": the ssh client exits with
		// 255 then.
		return exit(255)
	case errors.Is(werr, mux.ErrMasterGone):
		if lost := c.masterLost(); lost != nil {
			return lost
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: werr, Detail: muxDetail(werr)}
}

// muxStartError is the error of a session that could not be opened, as
// the process transport reports it.
func (m *Master) muxStartError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx.Err(), "command", m.host)
	}
	var re *mux.ReplyError
	if errors.As(err, &re) {
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: ErrSessionRefused,
			Detail: "session request failed: " + re.Reason}
	}
	if !errors.Is(err, mux.ErrInvalid) {
		if lost := m.lost(); lost != nil {
			return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: lost}
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: err, Detail: muxDetail(err)}
}

// forward asks the master for a forward over the protocol.
func (b *muxBackend) forward(ctx context.Context, spec ForwardSpec) (int, error) {
	m := b.m
	f, err := spec.muxForward()
	if err != nil {
		return 0, err
	}
	var port int
	err = m.ctl.do(ctx, func(c *mux.Conn) error {
		var err error
		port, err = c.OpenForward(ctx, f)
		return err
	})
	if err != nil {
		return 0, m.forwardFailure(ctx, "forward", spec, muxForwardDetail(err))
	}
	if spec.Listen.network() == "unix" {
		return 0, nil
	}
	if spec.Kind == RemoteForward && spec.Listen.Port == 0 {
		if port == 0 {
			return 0, &Error{Code: CodeSlaveFailed, Op: "forward", Host: m.host, Err: ErrForwardFailed,
				Detail: "the master did not report the allocated port"}
		}
		return port, nil
	}
	return spec.Listen.Port, nil
}

// cancelForward asks the master to close a forward over the protocol.
func (b *muxBackend) cancelForward(ctx context.Context, spec ForwardSpec) error {
	m := b.m
	f, err := spec.muxForward()
	if err != nil {
		return err
	}
	err = m.ctl.do(ctx, func(c *mux.Conn) error { return c.CloseForward(ctx, f) })
	if err != nil {
		return m.forwardFailure(ctx, "cancel forward", spec, muxForwardDetail(err))
	}
	return nil
}

// muxForward converts a validated spec into the protocol's form: the same
// fields as ssh's -L/-R/-D arguments, local socket paths made absolute.
func (s ForwardSpec) muxForward() (mux.Forward, error) {
	if _, err := s.arg(); err != nil {
		return mux.Forward{}, err
	}
	end := func(a Addr, localSide bool) (mux.Endpoint, error) {
		if a.network() == "tcp" {
			return mux.Endpoint{Host: a.Host, Port: a.Port}, nil
		}
		p, _ := checkSocketPath("", a.Path)
		if localSide {
			var err error
			if p, err = filepath.Abs(p); err != nil {
				return mux.Endpoint{}, err
			}
		}
		return mux.Endpoint{Path: p}, nil
	}
	f := mux.Forward{}
	var err error
	switch s.Kind {
	case LocalForward:
		f.Type = mux.ForwardLocal
	case RemoteForward:
		f.Type = mux.ForwardRemote
	case DynamicForward:
		f.Type = mux.ForwardDynamic
	}
	if f.Listen, err = end(s.Listen, s.Kind != RemoteForward); err != nil {
		return f, err
	}
	if s.Kind != DynamicForward {
		if f.Connect, err = end(s.Connect, s.Kind == RemoteForward); err != nil {
			return f, err
		}
	}
	return f, nil
}

// muxForwardDetail words a refused forward request as ssh -O does.
func muxForwardDetail(err error) string {
	var re *mux.ReplyError
	if errors.As(err, &re) {
		return "forwarding request failed: " + re.Reason
	}
	return muxDetail(err)
}

// muxDetail returns the text of a protocol error without the package's
// "mux: " prefix, for an Error's Detail.
func muxDetail(err error) string {
	var re *mux.ReplyError
	if errors.As(err, &re) {
		return re.Reason
	}
	return strings.TrimPrefix(err.Error(), "mux: ")
}

// dialStdio opens a stdio forward whose stdin and stdout are one end of a
// socketpair, on a control connection of its own.
func (b *muxBackend) dialStdio(ctx context.Context, op string, ep mux.Endpoint, raddr net.Addr) (net.Conn, error) {
	m := b.m
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, &Error{Code: CodeSlavePipeFailed, Op: op, Host: m.host, Err: err}
	}
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, &Error{Code: CodeSlavePipeFailed, Op: op, Host: m.host, Err: err}
	}
	c, err := mux.Dial(ctx, m.ctlPath)
	if err != nil {
		theirs.Close()
		fc.Close()
		return nil, m.muxFailure(ctx, op, err)
	}
	mark := m.masterLogMark()
	f, err := c.NewStdioForward(ctx, ep, theirs, theirs)
	theirs.Close()
	if err != nil {
		c.Close()
		fc.Close()
		var re *mux.ReplyError
		if errors.As(err, &re) && !re.Denied {
			if aerr := m.alive(); aerr != nil {
				return nil, aerr
			}
			return nil, m.tunnelRefused(op, "stdio forwarding failed: "+re.Reason, mark)
		}
		return nil, m.muxFailure(ctx, op, err)
	}
	m.log.Debug("openssh: tunnel started", "host", m.host, "target", ep.String(), "transport", "mux")
	return &tunnelConn{
		UnixConn: fc.(*net.UnixConn),
		m:        m,
		local:    &TunnelAddr{Net: "ssh", Address: m.destination()},
		remote:   raddr,
		fwd:      f,
	}, nil
}

// muxFailure turns an error of the protocol into the Error the process
// transport gives for the same cause: ctx's end, a master that is gone,
// or a slave failure.
func (m *Master) muxFailure(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx.Err(), op, m.host)
	}
	if aerr := m.alive(); aerr != nil {
		return aerr
	}
	if errors.Is(err, mux.ErrMasterGone) {
		if lost := m.lost(); lost != nil {
			return lost
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: op, Host: m.host, Err: err, Detail: muxDetail(err)}
}

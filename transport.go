package openssh

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goopenssh/openssh/internal/mux"
)

// Transport says how a [Master] runs operations on its connection.
type Transport int

const (
	// TransportProcess runs one slave ssh process per operation ("ssh -S
	// ctl ...", "ssh -O check"). It is the default: every ssh feature works
	// with it, per-call ssh options included.
	TransportProcess Transport = iota
	// TransportMux speaks OpenSSH's control-socket protocol (PROTOCOL.mux,
	// version 4) directly: commands, [Master.SFTP], [Master.Check],
	// [Master.Stop], [Master.Close], [Master.DialContext] and port forwards
	// need no process of their own, which makes a short command several
	// times faster. What runs a program of its own (scp, rsync, sshfs)
	// still starts one,
	// and so does a [Cmd] with ssh options of its own (Cmd.SSHOpts, or
	// Options.DefaultSSHOpts), which the protocol cannot carry. Behaviour,
	// errors and exit codes are those of TransportProcess, except that
	// [Cmd.Process] and [Cmd.ProcessState] stay nil.
	TransportMux
)

// String returns "process" or "mux".
func (t Transport) String() string {
	switch t {
	case TransportProcess:
		return "process"
	case TransportMux:
		return "mux"
	}
	return "Transport(" + strconv.Itoa(int(t)) + ")"
}

// native reports whether operations go through the control-socket protocol.
func (m *Master) native() bool { return m.opts.Transport == TransportMux }

// muxDo runs fn on the Master's control connection, which it keeps open
// between calls (an alive check on an open connection takes microseconds).
// A connection that fails for another reason than the master's refusal of
// the request is dropped and, once, dialled again: the master may have been
// restarted since.
func (m *Master) muxDo(ctx context.Context, fn func(*mux.Conn) error) error {
	m.muxMu.Lock()
	defer m.muxMu.Unlock()
	for attempt := 0; ; attempt++ {
		fresh := false
		if m.muxCtl == nil {
			c, err := mux.Dial(ctx, m.ctlPath)
			if err != nil {
				return err
			}
			m.muxCtl = c
			fresh = true
		}
		err := fn(m.muxCtl)
		if err == nil {
			return nil
		}
		var re *mux.ReplyError
		if errors.As(err, &re) || errors.Is(err, mux.ErrInvalid) {
			return err
		}
		m.muxCtl.Close()
		m.muxCtl = nil
		if fresh || attempt > 0 || ctx.Err() != nil {
			return err
		}
	}
}

// muxDrop closes the kept control connection (on Close and Restart).
func (m *Master) muxDrop() {
	m.muxMu.Lock()
	if m.muxCtl != nil {
		m.muxCtl.Close()
		m.muxCtl = nil
	}
	m.muxMu.Unlock()
}

// muxAlive asks the master for its pid.
func (m *Master) muxAlive(ctx context.Context) (int, error) {
	var pid int
	err := m.muxDo(ctx, func(c *mux.Conn) error {
		var err error
		pid, err = c.AliveCheck(ctx)
		return err
	})
	return pid, err
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

// muxOpenForward is Forward over the protocol.
func (m *Master) muxOpenForward(ctx context.Context, spec ForwardSpec) (int, error) {
	f, err := spec.muxForward()
	if err != nil {
		return 0, err
	}
	var port int
	err = m.muxDo(ctx, func(c *mux.Conn) error {
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
	if spec.Kind == RemoteForward && spec.Listen.Port == 0 && port == 0 {
		return 0, &Error{Code: CodeSlaveFailed, Op: "forward", Host: m.host, Err: ErrForwardFailed,
			Detail: "the master did not report the allocated port"}
	}
	return port, nil
}

// muxCancelForward is CancelForward over the protocol.
func (m *Master) muxCancelForward(ctx context.Context, spec ForwardSpec) error {
	f, err := spec.muxForward()
	if err != nil {
		return err
	}
	err = m.muxDo(ctx, func(c *mux.Conn) error { return c.CloseForward(ctx, f) })
	if err != nil {
		return m.forwardFailure(ctx, "cancel forward", spec, muxForwardDetail(err))
	}
	return nil
}

// muxForwardDetail words a refused forward request as ssh -O does.
func muxForwardDetail(err error) string {
	var re *mux.ReplyError
	if errors.As(err, &re) {
		return "forwarding request failed: " + re.Reason
	}
	return muxDetail(err)
}

// muxDialStdio is dialStdio over the protocol: a stdio forward whose
// stdin and stdout are one end of a socketpair, on a control connection of
// its own.
func (m *Master) muxDialStdio(ctx context.Context, op string, ep mux.Endpoint, raddr net.Addr) (net.Conn, error) {
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, &Error{Code: CodeSlaveTimeout, Op: op, Host: m.host, Err: ctx.Err()}
	}
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
		code := CodeSlaveFailed
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			code = CodeSlaveTimeout
		}
		return &Error{Code: code, Op: op, Host: m.host, Err: ctx.Err()}
	}
	if aerr := m.alive(); aerr != nil {
		return aerr
	}
	if errors.Is(err, mux.ErrMasterGone) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cerr := m.Check(cctx)
		cancel()
		if cerr != nil {
			return cerr
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: op, Host: m.host, Err: err, Detail: muxDetail(err)}
}

// startMux opens the command's session over a control connection of its
// own (mux.c allows one session per connection) and passes it the three
// files, which the master reads and writes directly. ownTTY says that fin
// is the pty StartPty made, which is not restored after raw mode.
//
// A session the server refuses is asked for again a few times over about
// 300 ms: sshd frees a session a moment after its exit status is sent, so a
// refusal is often a race that a retry wins (nothing was read from the
// files yet).
func (c *Cmd) startMux(line string, fin, fout, ferr *os.File, ownTTY bool) error {
	req := mux.SessionRequest{
		Command:   line,
		Subsystem: c.Subsystem,
		TTY:       c.Tty,
		X11:       c.ForwardX11,
		Agent:     c.ForwardAgent,
	}
	if c.Tty {
		req.Term = os.Getenv("TERM")
	}
	var s *mux.Session
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		conn, err := mux.Dial(c.ctx, c.m.ctlPath)
		if err != nil {
			return c.muxStartError(err)
		}
		s, err = conn.NewSession(c.ctx, req, fin, fout, ferr)
		if err == nil {
			break
		}
		conn.Close()
		var re *mux.ReplyError
		if !errors.As(err, &re) || re.Denied || wait > 160*time.Millisecond {
			return c.muxStartError(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return c.muxStartError(err)
		}
	}
	c.sess = s
	if c.Tty && fin != nil {
		// ssh puts its terminal in raw mode for a tty session, once the
		// master has read the modes to send; the master does not, so do
		// it here. A stdin that is not a terminal is left alone.
		if restore, err := makeRaw(fin); err == nil && !ownTTY {
			c.unraw = restore
		}
	}
	return nil
}

// muxStartError is the error of a session that could not be opened, as
// the process transport reports it.
func (c *Cmd) muxStartError(err error) error {
	m := c.m
	if c.ctx.Err() != nil {
		return c.ctxError(c.ctx.Err())
	}
	var re *mux.ReplyError
	if errors.As(err, &re) {
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: ErrSessionRefused,
			Detail: "session request failed: " + re.Reason}
	}
	if !errors.Is(err, mux.ErrInvalid) {
		if lost := c.masterLost(); lost != nil {
			return lost
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: err, Detail: muxDetail(err)}
}

// muxExitError is the error of a session that ended, as the process
// transport reports it: the remote status as an [*ExitError], including the
// 255 that a remote process killed by a signal gives there.
func (c *Cmd) muxExitError(status int, werr error) error {
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
	switch {
	case werr == nil:
		return exit(status)
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

package openssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goopenssh/openssh/internal/mux"
)

// procBackend is TransportProcess: every session, tunnel and forward
// request is a slave ssh process on the master's socket.
type procBackend struct{ m *Master }

// startSession runs "ssh -S ctl ... -- host line" on the request's stdio.
func (b *procBackend) startSession(ctx context.Context, r *sessionReq) (session, error) {
	m := b.m
	argv := b.argv(r)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = slaveSysProcAttr()
	// Typed nil files must not reach os/exec.
	if r.stdin != nil {
		cmd.Stdin = r.stdin
	}
	if r.stdout != nil {
		cmd.Stdout = r.stdout
	}
	if r.stderr != nil {
		cmd.Stderr = r.stderr
	}
	if r.ttyCtl {
		// ssh gets the pty as its controlling terminal: a resize of the
		// pty signals it, and it tells the server.
		cmd.SysProcAttr.Setsid = true
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	}
	ch, err := startChild(cmd, false)
	if err != nil {
		return nil, &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: err}
	}
	m.log.Debug("openssh: session started", "host", m.host, "pid", ch.Pid(), "cmd", r.line)
	return &procSession{ch: ch}, nil
}

// argv returns the slave ssh command line of a session.
func (b *procBackend) argv(r *sessionReq) []string {
	tty := 0
	if r.tty {
		tty = 2
	}
	return b.m.slaveArgv(slaveSpec{
		sshOpts:      r.sshOpts,
		tty:          tty,
		forwardAgent: r.agent,
		forwardX11:   r.x11,
		subsystem:    r.subsystem,
		command:      r.line,
		hasCommand:   r.hasCommand,
	})
}

// procSession is a session carried by a slave ssh process.
type procSession struct{ ch *child }

func (s *procSession) end(grace time.Duration) { s.ch.Stop(grace) }
func (s *procSession) done() <-chan struct{}   { return s.ch.Done() }
func (s *procSession) process() *os.Process    { return s.ch.Process() }
func (s *procSession) state() *os.ProcessState { return s.ch.State() }

// winch has nothing to do: the pty is ssh's controlling terminal, so the
// kernel signals ssh on a resize and ssh tells the server.
func (s *procSession) winch() error { return nil }

// linger: ssh exits as soon as it has the exit status, a moment before
// sshd has closed the channel and freed the session, so a slot released at
// once can let one session too many reach sshd, which refuses it.
func (s *procSession) linger() time.Duration { return sessionLinger }

// wait reaps ssh.
func (s *procSession) wait() { s.ch.Wait() }

// exitError classifies the exit of the local ssh.
func (s *procSession) exitError(c *Cmd) error {
	werr := s.ch.Wait()
	st := s.ch.State()
	if st == nil {
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: c.m.host, Err: werr}
	}
	if st.Success() {
		return nil
	}
	return c.procExitError(st)
}

// procExitError builds the error of an unsuccessful exit of the local ssh.
func (c *Cmd) procExitError(st *os.ProcessState) error {
	m := c.m
	var tail []byte
	if c.sshTail != nil {
		tail = c.sshTail.Bytes()
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// The local ssh was killed by someone else.
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host,
			Err: fmt.Errorf("ssh killed by signal %v", ws.Signal()), Detail: lastLine(tail)}
	}
	code := st.ExitCode()
	ee := &ExitError{Code: code, Host: m.host, Cmd: c.line, ProcessState: st}
	if c.libErr {
		ee.Stderr = tail
	}
	if code != 255 {
		return ee
	}
	if err := c.masterLost(); err != nil {
		return err
	}
	text := string(tail)
	if strings.Contains(text, "refused by peer") || strings.Contains(text, "session request failed") {
		// ssh then tries a connection of its own, which ProxyCommand=false
		// makes fail: its error is the last line, the refusal before it.
		detail := lastLine(tail)
		for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
			if i := strings.Index(l, "session request failed"); i >= 0 {
				detail = strings.TrimSpace(l[i:])
				break
			}
		}
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: ErrSessionRefused, Detail: detail}
	}
	if strings.Contains(text, "open failed") || strings.Contains(text, "Control socket connect") ||
		strings.Contains(text, "mux_client") {
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: errors.New("session failed"), Detail: lastLine(tail)}
	}
	// A remote process killed by a signal: the mux client of OpenSSH 9.2
	// exits with 255 and prints nothing (the exit-signal message reaches
	// only the master), so Signal cannot be set here; see ExitError.
	return ee
}

// forward runs "ssh -O forward".
func (b *procBackend) forward(ctx context.Context, spec ForwardSpec) (int, error) {
	m := b.m
	arg, err := spec.arg()
	if err != nil {
		return 0, err
	}
	out, err := m.control(ctx, "forward", spec.Kind.String(), arg)
	if ferr := m.forwardError(ctx, "forward", spec, out, err); ferr != nil {
		return 0, ferr
	}
	if spec.Listen.network() == "unix" {
		return 0, nil
	}
	if spec.Kind == RemoteForward && spec.Listen.Port == 0 {
		for _, l := range strings.Split(string(out), "\n") {
			l = strings.TrimSpace(l)
			if n, err := strconv.Atoi(l); err == nil && n > 0 && n < 65536 {
				return n, nil
			}
		}
		return 0, &Error{Code: CodeSlaveFailed, Op: "forward", Host: m.host, Err: ErrForwardFailed,
			Detail: "ssh did not report the allocated port: " + lastLine(out)}
	}
	return spec.Listen.Port, nil
}

// cancelForward runs "ssh -O cancel".
func (b *procBackend) cancelForward(ctx context.Context, spec ForwardSpec) error {
	arg, err := spec.arg()
	if err != nil {
		return err
	}
	out, err := b.m.control(ctx, "cancel", spec.Kind.String(), arg)
	return b.m.forwardError(ctx, "cancel forward", spec, out, err)
}

// control runs "ssh -O <ctl>" and returns its combined output, all of it:
// ssh's exit is awaited and then the copy of its output (os/exec's copy,
// bounded by copyGrace). The process is stopped when ctx is done.
func (m *Master) control(ctx context.Context, ctl string, extra ...string) ([]byte, error) {
	argv := m.slaveArgv(slaveSpec{control: ctl, sshOpts: extra})
	var out lockedBuffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := runChild(ctx, cmd)
	m.log.Debug("openssh: control command", "host", m.host, "cmd", ctl, "err", err)
	return out.Bytes(), err
}

// dialStdio runs "ssh -W target" with one end of a socketpair as its stdin
// and stdout and returns the other end once the master reports the channel
// open (or the fallback time has passed).
func (b *procBackend) dialStdio(ctx context.Context, op string, ep mux.Endpoint, raddr net.Addr) (net.Conn, error) {
	m := b.m
	target := ep.Host
	if strings.Contains(target, ":") {
		target = "[" + target + "]"
	}
	target += ":" + strconv.Itoa(ep.Port)
	opts := append([]string{"-o", "LogLevel=DEBUG1"}, m.opts.DefaultSSHOpts...)
	argv := m.slaveArgv(slaveSpec{tunnel: target, sshOpts: opts})
	if err := checkArgs("argv", argv); err != nil {
		return nil, err
	}
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, &Error{Code: CodeSlavePipeFailed, Op: op, Host: m.host, Err: err}
	}
	w := &stderrWatch{buf: tailBuffer{n: 8 << 10}, opened: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = theirs
	cmd.Stdout = theirs
	cmd.Stderr = w
	// Only what the master logs after this mark can explain this dial.
	mark := m.masterLogMark()
	ch, err := startChild(cmd, false)
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, &Error{Code: CodeSlaveFailed, Op: op, Host: m.host, Err: err}
	}
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		ch.Stop(time.Second)
		return nil, &Error{Code: CodeSlavePipeFailed, Op: op, Host: m.host, Err: err}
	}
	conn := &tunnelConn{
		UnixConn: fc.(*net.UnixConn),
		m:        m,
		local:    &TunnelAddr{Net: "ssh", Address: m.destination()},
		remote:   raddr,
		proc:     ch,
	}
	m.log.Debug("openssh: tunnel started", "host", m.host, "target", target, "pid", ch.Pid())
	fallback := time.NewTimer(stdioOpenFallback)
	defer fallback.Stop()
	select {
	case <-w.opened:
		return conn, nil
	case <-fallback.C:
		return conn, nil
	case <-ch.Done():
		conn.UnixConn.Close()
		return nil, m.tunnelError(op, ch, w, mark)
	case <-ctx.Done():
		conn.UnixConn.Close()
		ch.Stop(time.Second)
		return nil, &Error{Code: CodeSlaveTimeout, Op: op, Host: m.host, Err: ctx.Err()}
	}
}

// tunnelError explains why a -W process exited before its channel opened,
// from its stderr and what the master logged after mark.
func (m *Master) tunnelError(op string, ch *child, w *stderrWatch, mark int64) error {
	text := string(w.buf.Bytes())
	detail := ""
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "debug") {
			detail = l
		}
	}
	if strings.Contains(text, "forwarding request failed") || strings.Contains(text, "refused by peer") ||
		strings.Contains(text, "open failed") {
		return m.tunnelRefused(op, detail, mark)
	}
	if err := m.alive(); err != nil {
		return err
	}
	if detail == "" {
		detail = ch.State().String()
	}
	return &Error{Code: CodeSlaveFailed, Op: op, Host: m.host, Detail: detail}
}

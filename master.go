package openssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/shlex"
)

// Master is one ssh master connection (ControlMaster) to one host. Every
// operation runs through it as a slave session that reuses its one
// authenticated connection. A Master is safe for concurrent use by many
// goroutines.
type Master struct {
	opts     Options
	user     string // "" means ssh decides
	host     string // without brackets
	port     int    // 0 means ssh decides
	ipv6     bool
	password []byte // from the target or Options; only for the login
	sshArgv  []string
	ctlPath  string
	external bool // never signal the master: not ours
	quoter   Quoter
	vars     *varTable
	log      *slog.Logger
	sessions chan struct{} // MaxSessions semaphore; nil means no limit
	ctlSlot  chan struct{} // the session kept for stopping commands (remotectl.go); nil: none
	auth     authState     // pty login: secret, prompt, handler (auth.go)

	mu       sync.Mutex
	state    masterState
	err      error       // sticky master failure
	run      *masterProc // the current master process; nil for an external master
	ready    chan struct{}
	disowned bool

	listeners listenerSet // open Listen listeners, closed by Close
	fwds      fwdRegistry // forwards to set up again after Restart (forward_restore.go)

	be   backend      // the transport, chosen once in New (backend.go)
	proc *procBackend // for what needs a process whatever the transport
	ctl  *ctlConn     // the kept control connection (backend.go)

	rctl remoteCtl // the stop wrapper's share (remotectl.go)
}

type masterState int

const (
	stateStarting masterState = iota // the master is logging in
	stateRunning                     // the socket is up and checked
	stateFailed                      // sticky failure; Restart to recover
	stateStopped                     // -O stop was sent
	stateClosed                      // Close was called
)

// masterProc is one run of the master ssh process.
type masterProc struct {
	proc       *child
	pid        int
	stderr     *tailBuffer
	stderrR    *os.File
	stderrDone chan struct{} // closed when the stderr reader has stopped
	loopDone   chan struct{} // closed when the login watcher has stopped
	stopLoop   context.CancelFunc
	login      *ptyLogin   // the pty login conversation; nil without one
	info       *infoParser // what it negotiated (info.go)
	watchdog   *watchdog   // ends the master if this program dies; nil with Pdeathsig
}

// New starts a master connection to target, "[user[:password]@]host[:port]"
// (see [ParseTarget]), and waits until it is up, unless opts.Async is set.
//
// ctx bounds the connection setup, as does opts.Timeout; once New (or, in
// async mode, [Master.WaitForMaster]) has succeeded, ctx no longer matters:
// the master lives until [Master.Close].
//
// Bad options and targets are refused with an [*ArgError] before any process
// starts. A failed login returns an [*Error] with code CodeMasterFailed whose
// cause tells why: [ErrHostKeyUnknown], [ErrHostKeyChanged], [ErrAuth],
// [ErrConnRefused], [ErrResolve], [ErrUnreachable], [ErrLoginTimeout] or
// [ErrMasterExited]; nothing is left running. In async mode, New returns a
// Master whose first operation (or WaitForMaster) reports such errors.
func New(ctx context.Context, target string, opts *Options) (*Master, error) {
	m, err := newMaster(target, opts)
	if err != nil {
		return nil, err
	}
	if m.external {
		if err := m.Check(ctx); err != nil {
			return nil, err
		}
		return m, nil
	}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	if m.opts.Async {
		return m, nil
	}
	if err := m.WaitForMaster(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// newMaster validates everything and builds a Master without starting it.
func newMaster(target string, opts *Options) (*Master, error) {
	m := &Master{}
	if opts != nil {
		m.opts = *opts
		m.opts.MasterOpts = append([]string(nil), opts.MasterOpts...)
		m.opts.DefaultSSHOpts = append([]string(nil), opts.DefaultSSHOpts...)
	}
	o := &m.opts
	if o.ExternalMaster && target == "" {
		// The host is never used to connect: the socket decides.
		target = "0.0.0.0"
	}
	t, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	m.host, m.user, m.port, m.ipv6 = t.Host, t.User, t.Port, t.IPv6
	if o.User != "" {
		if t.User != "" {
			return nil, &ArgError{Arg: "Options.User", Value: fmt.Sprintf("%q", o.User), Reason: "the target names a user too"}
		}
		if err := checkUser(o.User); err != nil {
			return nil, err
		}
		m.user = o.User
	}
	if o.Port != 0 {
		if t.Port != 0 {
			return nil, &ArgError{Arg: "Options.Port", Value: fmt.Sprint(o.Port), Reason: "the target names a port too"}
		}
		if o.Port < 1 || o.Port > 65535 {
			return nil, &ArgError{Arg: "Options.Port", Value: fmt.Sprint(o.Port), Reason: "a port is 1-65535"}
		}
		m.port = o.Port
	}
	if t.HasPassword {
		m.password = []byte(t.Password)
	}
	if err := checkStringOptions(o); err != nil {
		return nil, err
	}
	if err := m.validateAuth(); err != nil {
		return nil, err
	}
	if o.Timeout < 0 {
		return nil, &ArgError{Arg: "Options.Timeout", Value: o.Timeout.String(), Reason: "negative"}
	}
	if o.Transport != TransportProcess && o.Transport != TransportMux {
		return nil, &ArgError{Arg: "Options.Transport", Value: o.Transport.String(), Reason: "not TransportProcess or TransportMux"}
	}
	m.sshArgv = []string{"ssh"}
	if o.SSHPath != "" {
		argv, err := shlex.Split(o.SSHPath)
		if err != nil || len(argv) == 0 {
			return nil, &ArgError{Arg: "Options.SSHPath", Value: shortQuote(o.SSHPath), Reason: fmt.Sprint("cannot split: ", err)}
		}
		m.sshArgv = argv
	}
	if o.Quoter != nil {
		m.quoter = o.Quoter
	} else if m.quoter, err = QuoterFor(o.RemoteShell); err != nil {
		return nil, err
	}
	for name := range o.Vars {
		if err := checkVarName(name); err != nil {
			return nil, err
		}
	}
	m.vars = newVarTable(o.Vars, o.ExpandVars)
	m.log = o.Logger
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	n := o.MaxSessions
	if n == 0 {
		n = 10
	}
	switch {
	case n >= 2:
		// One session is kept for stopping and signalling commands: with
		// every slot taken by commands, none could be stopped.
		m.sessions = make(chan struct{}, n-1)
		m.ctlSlot = make(chan struct{}, 1)
	case n == 1:
		m.sessions = make(chan struct{}, 1)
	}
	if err := m.setupCtlPath(); err != nil {
		return nil, err
	}
	m.ready = make(chan struct{})
	m.ctl = &ctlConn{path: m.ctlPath}
	m.proc = &procBackend{m: m}
	m.be = m.newBackend()
	return m, nil
}

// validateAuth checks the authentication and connection options and moves
// the secret into m.auth (see setupAuth in auth.go).
func (m *Master) validateAuth() error {
	return m.setupAuth()
}

// setupCtlPath resolves, checks and (for the default directory) creates the
// control path.
func (m *Master) setupCtlPath() error {
	o := &m.opts
	if o.ExternalMaster {
		if o.CtlPath == "" {
			return &ArgError{Arg: "Options.CtlPath", Reason: "ExternalMaster needs the control path of the master"}
		}
		if !isSocket(o.CtlPath) {
			return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: ErrMasterGone, Detail: o.CtlPath + " is not a socket"}
		}
		if !o.AllowInsecureCtlDir {
			if err := checkExternalSocket(o.CtlPath); err != nil {
				return err
			}
		}
		m.ctlPath = o.CtlPath
		m.external = true
		return nil
	}
	if o.CtlPath != "" {
		p, err := filepath.Abs(o.CtlPath)
		if err != nil {
			return &ArgError{Arg: "Options.CtlPath", Value: fmt.Sprintf("%q", o.CtlPath), Reason: err.Error()}
		}
		if _, err := os.Lstat(p); err == nil {
			return &ArgError{Arg: "Options.CtlPath", Value: fmt.Sprintf("%q", p), Reason: "a file already exists there"}
		}
		if err := checkCtlPathLen(p); err != nil {
			return err
		}
		if !o.AllowInsecureCtlDir {
			if err := checkSecureDir(filepath.Dir(p)); err != nil {
				return err
			}
		}
		m.ctlPath = p
		return nil
	}
	dir := o.CtlDir
	if dir == "" {
		d, err := defaultCtlDir()
		if err != nil {
			return err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return &ArgError{Arg: "Options.CtlDir", Value: fmt.Sprintf("%q", o.CtlDir), Reason: err.Error()}
	}
	// Check the length before creating anything.
	if err := checkCtlPathLen(filepath.Join(dir, strings.Repeat("x", ctlNameLen))); err != nil {
		return err
	}
	if err := ensureCtlDir(dir); err != nil {
		return err
	}
	if !o.AllowInsecureCtlDir {
		if err := checkSecureDir(dir); err != nil {
			return err
		}
	}
	p, err := newCtlPath(dir, m.user, m.host, m.port)
	if err != nil {
		return err
	}
	m.ctlPath = p
	return nil
}

// start launches the master process and the goroutines that watch it.
func (m *Master) start(ctx context.Context) error {
	argv := m.withInfoArgs(m.masterArgv())
	cmd := exec.Command(argv[0], argv[1:]...)
	if f, ok := osFile(m.opts.MasterStdout); ok {
		cmd.Stdout = f
	}
	r, w, err := os.Pipe()
	if err != nil {
		return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: err}
	}
	cmd.Stderr = w
	cmd.SysProcAttr = masterSysProcAttr(!m.opts.NoPdeathsig)
	login, err := m.prepareLogin(cmd)
	if err != nil {
		r.Close()
		w.Close()
		return err
	}
	var stdoutW *os.File
	var stdoutR *os.File
	if m.opts.MasterStdout != nil && cmd.Stdout == nil {
		stdoutR, stdoutW, err = os.Pipe()
		if err != nil {
			r.Close()
			w.Close()
			login.abort()
			return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: err}
		}
		cmd.Stdout = stdoutW
	}
	ch, err := startMasterChild(cmd, true)
	if err != nil {
		r.Close()
		w.Close()
		login.abort()
		if stdoutW != nil {
			stdoutR.Close()
			stdoutW.Close()
		}
		return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: err}
	}
	w.Close()
	var wd *watchdog
	if !hasPdeathsig || m.opts.NoPdeathsig {
		if wd, err = startWatchdog(ch.Pid()); err != nil {
			ch.Stop(0)
			r.Close()
			login.abort()
			if stdoutW != nil {
				stdoutR.Close()
				stdoutW.Close()
			}
			return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: fmt.Errorf("unable to start the master's watchdog: %w", err)}
		}
		go func() {
			<-ch.Done()
			wd.dismiss()
		}()
	}
	p := &masterProc{
		watchdog:   wd,
		proc:       ch,
		pid:        ch.Pid(),
		stderr:     newTailBuffer(16 << 10),
		stderrR:    r,
		stderrDone: make(chan struct{}),
		loopDone:   make(chan struct{}),
		login:      login,
	}
	if login != nil {
		login.start(ch.Done())
	}
	m.log.Debug("openssh: master started", "host", m.host, "pid", p.pid, "argv", argv)
	out := m.stderrSink(p, len(argv) > len(m.masterArgv()))
	go func() {
		defer close(p.stderrDone)
		io.Copy(out, r)
		out.flush()
		r.Close()
	}()
	if stdoutR != nil {
		stdoutW.Close()
		go func() {
			io.Copy(m.opts.MasterStdout, stdoutR)
			stdoutR.Close()
		}()
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.stopLoop = cancel
	m.mu.Lock()
	m.run = p
	m.state = stateStarting
	m.err = nil
	m.ready = make(chan struct{})
	ready := m.ready
	m.mu.Unlock()
	go m.loginLoop(loopCtx, ctx, p, ready)
	return nil
}

// loginLoop waits for the control socket with adaptive polling, bounded by
// ctx (the caller's), Options.Timeout and the life of the process, then
// checks the master with -O check. It closes ready when the outcome is known.
func (m *Master) loginLoop(loopCtx, ctx context.Context, p *masterProc, ready chan struct{}) {
	defer close(p.loopDone)
	defer p.stopLoop()
	err := m.waitSocket(loopCtx, ctx, p)
	if err == nil {
		err = m.checkPID(loopCtx, p.pid)
	}
	p.login.finish()
	m.mu.Lock()
	if m.run == p && m.state == stateStarting {
		if err != nil {
			m.state = stateFailed
			m.err = err
		} else {
			m.state = stateRunning
		}
	} else if err == nil && m.err != nil {
		err = m.err
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Debug("openssh: master failed", "host", m.host, "err", err)
		m.killProc(p, false)
	} else {
		m.log.Debug("openssh: master running", "host", m.host, "pid", p.pid)
	}
	close(ready)
}

// safetyPoll is the polling interval while an inotify watch is set.
const safetyPoll = 500 * time.Millisecond

// waitSocket waits for the master's control socket to appear, for the
// process to exit, for a login failure or for a deadline.
func (m *Master) waitSocket(loopCtx, ctx context.Context, p *masterProc) error {
	var deadline <-chan time.Time
	if m.opts.Timeout > 0 {
		t := time.NewTimer(m.opts.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	// On Linux an inotify watch on the control directory says when the
	// socket appears; polling remains, slow while the watch is there, as
	// a safety net and as the only way elsewhere. The first check comes
	// after the watch is set, so a socket made in between is not missed.
	w := watchSocket(m.ctlPath)
	defer w.close()
	dt := 20 * time.Millisecond
	if w != nil {
		dt = safetyPoll
	}
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-w.events():
			if isSocket(m.ctlPath) {
				return nil
			}
		case <-tick.C:
			if isSocket(m.ctlPath) {
				return nil
			}
			if dt < 200*time.Millisecond {
				dt = dt * 11 / 10
			}
			tick.Reset(dt)
		case <-p.proc.Done():
			if isSocket(m.ctlPath) {
				// It came up and died at once; let the check report it.
				return nil
			}
			return p.login.exitError(m.exitError(p))
		case err := <-p.login.failures():
			return err
		case <-deadline:
			return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: ErrLoginTimeout,
				Detail: fmt.Sprintf("no control socket after %v%s", m.opts.Timeout, stderrHint(p))}
		case <-ctx.Done():
			return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: ctx.Err()}
		case <-loopCtx.Done():
			return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: ErrClosed}
		}
	}
}

// stderrHint returns the master's last stderr line, for a timeout message.
func stderrHint(p *masterProc) string {
	if l := lastLine(p.stderr.Bytes()); l != "" {
		return " (ssh said: " + l + ")"
	}
	return ""
}

// exitError turns the exit of a master that never came up into a typed
// error, from what it printed on stderr.
func (m *Master) exitError(p *masterProc) error {
	select {
	case <-p.stderrDone:
	case <-time.After(500 * time.Millisecond):
	}
	text := string(p.stderr.Bytes())
	line, cause := classifyStderr(text)
	if cause == nil {
		cause = ErrMasterExited
		line = lastLine(p.stderr.Bytes())
		if err := p.proc.Wait(); err != nil && line == "" {
			line = err.Error() // "exit status 255", "signal: killed"
		}
	}
	return &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: cause, Detail: line}
}

// classifyStderr finds why ssh failed in its diagnostics. It returns the
// line that tells and the sentinel, or a nil error.
func classifyStderr(text string) (string, error) {
	rules := []struct {
		err     error
		needles []string
	}{
		{ErrHostKeyChanged, []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key for", "host key has changed"}},
		{ErrHostKeyUnknown, []string{"Host key verification failed", "No ED25519 host key is known", "host key is known for", "authenticity of host"}},
		{ErrAuth, []string{"Permission denied", "Too many authentication failures", "No more authentication methods"}},
		{ErrConnRefused, []string{"Connection refused"}},
		{ErrNegotiation, []string{"Unable to negotiate"}},
		{ErrResolve, []string{"Could not resolve hostname", "Name or service not known", "Temporary failure in name resolution", "nodename nor servname"}},
		{ErrUnreachable, []string{"Connection timed out", "Network is unreachable", "No route to host", "Operation timed out"}},
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	for _, r := range rules {
		for _, l := range lines {
			for _, n := range r.needles {
				if strings.Contains(l, n) {
					return strings.TrimSpace(strings.Trim(l, "@ ")), r.err
				}
			}
		}
	}
	return "", nil
}

// checkPID asks the master for its pid over the kept control connection
// and requires it to be pid (any pid when pid is 0, for an external
// master).
func (m *Master) checkPID(ctx context.Context, pid int) error {
	got, err := m.ctl.alive(ctx)
	if err != nil || got == 0 {
		if ctx.Err() != nil {
			return &Error{Code: CodeMasterFailed, Op: "check", Host: m.host, Err: ctx.Err()}
		}
		detail := "the master did not report its pid"
		if err != nil {
			detail = ctlDetail(m.ctlPath, err)
		}
		return &Error{Code: CodeMasterFailed, Op: "check", Host: m.host, Err: ErrMasterGone, Detail: detail}
	}
	if pid != 0 && got != pid {
		return &Error{Code: CodeMasterFailed, Op: "check", Host: m.host, Err: ErrMasterGone,
			Detail: fmt.Sprintf("socket %s is owned by pid %d (pid %d expected)", m.ctlPath, got, pid)}
	}
	return nil
}

// WaitForMaster waits until the master is up (or has failed) and returns its
// error, if any. It is for Masters started with Options.Async; on others it
// returns at once. ctx bounds only this wait: when it is done the master goes
// on logging in and a later call can wait again.
func (m *Master) WaitForMaster(ctx context.Context) error {
	m.mu.Lock()
	ready := m.ready
	m.mu.Unlock()
	if !m.external {
		select {
		case <-ready:
		case <-ctx.Done():
			return &Error{Code: CodeMasterFailed, Op: "wait", Host: m.host, Err: ctx.Err()}
		}
	}
	return m.alive()
}

// alive returns the sticky error, or notices a master that died or whose
// socket vanished since it came up.
func (m *Master) alive() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case stateRunning:
	case stateStarting:
		return &Error{Code: CodeMasterFailed, Op: "wait", Host: m.host, Err: errors.New("master still starting")}
	default:
		return m.err
	}
	if m.run != nil {
		if m.run.proc.Exited() {
			m.failLocked(&Error{Code: CodeMasterFailed, Op: "check", Host: m.host, Err: ErrMasterGone, Detail: "master process exited"})
			return m.err
		}
	}
	if !isSocket(m.ctlPath) {
		m.failLocked(&Error{Code: CodeMasterFailed, Op: "check", Host: m.host, Err: ErrMasterGone, Detail: "control socket " + m.ctlPath + " is gone"})
		return m.err
	}
	return nil
}

// lost returns the master's error when it is gone, or nil when it still
// answers. The master may have died an instant ago (not reaped yet, its
// socket still there), so it is asked.
func (m *Master) lost() error {
	if err := m.alive(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.Check(ctx)
}

// failLocked records a sticky master failure. m.mu must be held.
func (m *Master) failLocked(err error) {
	m.state = stateFailed
	m.err = err
}

// Check asks the master whether it is alive ("ssh -O check") and that it is
// the process this Master started. A failure is sticky: the master is killed
// and every later operation fails with the same error until [Master.Restart].
func (m *Master) Check(ctx context.Context) error {
	if !m.external {
		if err := m.WaitForMaster(ctx); err != nil {
			return err
		}
	}
	m.mu.Lock()
	pid := 0
	p := m.run
	if p != nil && !m.external {
		pid = p.pid
	}
	m.mu.Unlock()
	err := m.checkPID(ctx, pid)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		m.mu.Lock()
		if m.state == stateRunning || m.external {
			m.failLocked(err)
		}
		m.mu.Unlock()
		if p != nil && !m.external {
			m.killProc(p, false)
		}
		return err
	}
	m.mu.Lock()
	if m.external && m.state == stateStarting {
		m.state = stateRunning
		close(m.ready)
	}
	m.mu.Unlock()
	return nil
}

// Stop tells the master to stop accepting new sessions (the request of
// "ssh -O stop"): its socket is removed, sessions already running go on,
// and the master exits when the last of them ends (at once when none is
// open). The stop wrapper's files of the commands that have ended (see
// [Cmd]), when there are any, are removed first, in one session. Every
// later operation fails with [ErrMasterStopped], as in
// Net::OpenSSH. Close still reaps the master process.
func (m *Master) Stop(ctx context.Context) error {
	if err := m.WaitForMaster(ctx); err != nil {
		return err
	}
	m.cleanupRemote(false)
	if err := m.ctl.stop(ctx); err != nil {
		return &Error{Code: CodeMasterFailed, Op: "stop", Host: m.host, Err: err, Detail: muxDetail(err)}
	}
	m.mu.Lock()
	m.state = stateStopped
	m.err = &Error{Code: CodeMasterFailed, Op: "stop", Host: m.host, Err: ErrMasterStopped}
	m.mu.Unlock()
	return nil
}

// Close ends the master: it asks it to exit (the request of "ssh -O
// exit", sent over the control connection), then, if it has not exited
// after about 2 s, sends SIGTERM and, 3 s later, SIGKILL to its process
// group; it reaps the process and removes the socket. Before that, when
// the stop wrapper (see [Cmd]) may have left files on the remote host (a
// line that may exec ran, a command under csh or fish, or one that was
// stopped or signalled), one session removes them. A master the Master does not own (external
// or disowned) is left running. Close is idempotent; after it every
// operation fails with [ErrClosed].
func (m *Master) Close() error {
	m.mu.Lock()
	if m.state == stateClosed {
		m.mu.Unlock()
		return nil
	}
	prev := m.state
	m.state = stateClosed
	m.err = &Error{Code: CodeMasterFailed, Op: "close", Host: m.host, Err: ErrClosed}
	m.auth.wipe()
	p := m.run
	owned := !m.external && !m.disowned
	m.mu.Unlock()
	m.listeners.closeAll()
	if prev == stateRunning {
		m.cleanupRemote(true)
	}
	if p == nil || !owned {
		m.ctl.drop()
		return nil
	}
	p.stopLoop()
	<-p.loopDone
	m.killProc(p, prev == stateRunning)
	m.ctl.drop()
	return nil
}

// killProc ends an owned master process: the exit request first when
// polite, then the stop sequence (to its process group, so a ProxyCommand
// child goes too); it reaps it and removes its socket.
func (m *Master) killProc(p *masterProc, polite bool) {
	if !p.proc.Exited() && polite && isSocket(m.ctlPath) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.ctl.exit(ctx)
		cancel()
		select {
		case <-p.proc.Done():
		case <-time.After(2 * time.Second):
		}
	}
	grace := 3 * time.Second
	if !polite {
		grace = 300 * time.Millisecond
	}
	p.proc.Stop(grace)
	p.watchdog.dismiss()
	// The reader ends at EOF; a grandchild holding stderr must not keep it.
	select {
	case <-p.stderrDone:
	case <-time.After(200 * time.Millisecond):
		p.stderrR.Close()
		<-p.stderrDone
	}
	if isSocket(m.ctlPath) {
		os.Remove(m.ctlPath)
	}
	m.log.Debug("openssh: master reaped", "host", m.host, "pid", p.pid)
}

// Disown gives up ownership of the master: Close will leave it running, for
// another program to use through its socket. It returns the master's pid.
// On Linux, unless Options.NoPdeathsig was set, the kernel still ends the
// master when this program exits; elsewhere (and with NoPdeathsig) the
// master's watchdog is dismissed, so the master outlives the program.
func (m *Master) Disown() (int, error) {
	if m.external {
		return 0, &Error{Code: CodeMasterFailed, Op: "disown", Host: m.host, Err: ErrNotOwner}
	}
	if err := m.WaitForMaster(context.Background()); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disowned = true
	m.run.watchdog.dismiss()
	return m.run.pid, nil
}

// Restart ends the master (if it still runs) and starts a new one with the
// same options, then waits for it unless Options.Async is set. It recovers
// from a sticky failure or a Stop. It refuses external and disowned masters.
// Forwards and listeners are set up again on the new master: see
// [Master.Forwards].
func (m *Master) Restart(ctx context.Context) error {
	m.mu.Lock()
	if m.external || m.disowned {
		m.mu.Unlock()
		return &Error{Code: CodeMasterFailed, Op: "restart", Host: m.host, Err: ErrNotOwner}
	}
	if m.state == stateClosed {
		m.mu.Unlock()
		return &Error{Code: CodeMasterFailed, Op: "restart", Host: m.host, Err: ErrClosed}
	}
	p := m.run
	prev := m.state
	m.state = stateFailed
	m.err = &Error{Code: CodeMasterFailed, Op: "restart", Host: m.host, Err: errors.New("restarting")}
	m.mu.Unlock()
	if p != nil {
		p.stopLoop()
		<-p.loopDone
		m.killProc(p, prev == stateRunning)
	}
	m.ctl.reset()
	if err := m.start(ctx); err != nil {
		m.mu.Lock()
		m.failLocked(err)
		m.mu.Unlock()
		return err
	}
	return m.afterRestart(ctx)
}

// MasterPID returns the pid of the master process, or 0 when there is none
// or it is not ours (an external master).
func (m *Master) MasterPID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run == nil {
		return 0
	}
	return m.run.pid
}

// CtlPath returns the path of the control socket.
func (m *Master) CtlPath() string { return m.ctlPath }

// User returns the remote user given in the target or Options, or "" when
// ssh's configuration decides.
func (m *Master) User() string { return m.user }

// Host returns the remote host, without brackets.
func (m *Master) Host() string { return m.host }

// Port returns the remote port given in the target or Options, or 0 when
// ssh's configuration decides.
func (m *Master) Port() int { return m.port }

// Err returns the sticky error of the master, or nil while it is usable.
func (m *Master) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

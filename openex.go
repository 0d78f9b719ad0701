package openssh

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/creack/pty"
)

// Cmd is a remote command run through a [Master]: Net::OpenSSH's open_ex in
// the shape of [exec.Cmd]. Create it with [Master.Command], set its fields,
// then call one of its methods: the os/exec ones ([Cmd.Run], [Cmd.Output],
// [Cmd.CombinedOutput], [Cmd.Start] and [Cmd.Wait], [Cmd.StdinPipe],
// [Cmd.StdoutPipe], [Cmd.StderrPipe]), the ones os/exec has no equivalent
// for ([Cmd.StartPty], [Cmd.StartSocket], [Cmd.StartPipedTo]), or the
// helpers named after Net::OpenSSH's methods ([Cmd.System], [Cmd.Capture],
// [Cmd.PipeIn], ...; see capture.go). Each Master helper of the same name is
// a shorthand: m.Capture(ctx, args...) is m.Command(ctx, args...).Capture().
// A Cmd runs once.
//
// Every run is one slave ssh process on the master's connection (with
// [TransportMux], one session opened over the control socket, and no
// process, unless SSHOpts or Options.DefaultSSHOpts are set); Args and
// SSHOpts are %VAR% expanded (when the Master has expansion on) before
// quoting. When quoting is on, the extended redirections of Net::OpenSSH
// are appended for the streams that are discarded ("</dev/null",
// ">/dev/null", and "2>/dev/null" or ">/dev/null 2>&1" only when Stderr is
// io.Discard: a nil Stderr is kept for errors) and for StderrToStdout
// ("2>&1"), except by PipeIn, PipeOut and MakeRemoteCommand. At most
// Options.MaxSessions commands of a Master run at once; Start waits for a
// slot.
//
// When the caller gives up (ctx is done, or IdleTimeout fires), the
// command is stopped as [exec.CommandContext] stops its process, but on
// the remote host: the remote process group (the shell that runs the
// command line and everything it started) gets SIGTERM, then SIGKILL after
// StopGrace, through a second session on the same master, and the local
// side ends. Over both transports, with or without Tty. This works for
// remote shells of the POSIX, csh and fish families, through a wrapper
// around the command line (see remotectl.go). The line runs unchanged,
// with the same output and exit status (one difference: a line whose
// syntax error is found only at its end is reported by the shell at its
// line 2). Under a POSIX shell the line starts with a random token, and
// the second session finds the shell by it in the process list (/proc on
// Linux, ps elsewhere): nothing is written on the remote host. A line
// that may replace its shell (it holds exec, eval, source or a "."
// command), and every line under csh or fish, has its shell record its
// pid in a private file under /tmp first; the Master reuses these files
// and Close removes them. A line that exec's in a way its text does not
// show (through a function from a startup file) cannot be stopped or
// signalled remotely. A process that leaves the group (setsid, a daemon, a
// shell with job control on) is not reached. [Cmd.Signal] sends a signal
// the same way. Set KeepRemote to leave the remote command
// running: then only the local side ends (the local ssh gets SIGTERM, then
// SIGKILL after the grace period; over [TransportMux] the session's
// control connection is closed), and a remote command without a tty goes
// on until it exits or touches a stream whose other end is gone, since
// OpenSSH's multiplexing does not forward signals. A command with a tty
// is hung up in every case (SIGHUP). The same holds for remote shells the
// library cannot wrap: the Windows quoters ([MSWin], [MSCmd]; a Windows
// sshd runs no POSIX shell), a custom [Quoter], a login shell (no Args)
// and a subsystem.
//
// The error of a stopped command wraps ctx.Err() (and matches
// [ErrTimeout] for a deadline) or matches [ErrTimeout] (IdleTimeout).
type Cmd struct {
	// Args are the remote command's arguments, quoted for the remote shell
	// as QuoteArgs says. No arguments run the user's login shell; an empty
	// (or blank) first argument is refused with an [*ArgError], as
	// exec.Command("") is.
	Args []string

	// Stdin is the command's standard input. Nil reads /dev/null; an
	// *os.File is given to ssh as is (no copying goroutine) unless
	// IdleTimeout is set; any other reader is copied.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output. Nil (or [io.Discard])
	// discards it; an *os.File is given to ssh as is unless IdleTimeout is
	// set; any other writer is copied to. A nil Stderr is read by the
	// library, which keeps its last 4 KiB (the remote command's messages
	// and ssh's own) for errors ([ExitError.Stderr]), as [exec.Cmd.Output]
	// does; only io.Discard discards it at the remote side ("2>/dev/null").
	//
	// When a stream is nil and the Master has a default for it
	// (Options.DefaultStdin, DefaultStdout, DefaultStderr), the default is
	// used; set io.Discard (or an *os.File opened on /dev/null for Stdin)
	// to discard a stream despite a default.
	Stdout io.Writer
	Stderr io.Writer
	// StderrToStdout sends standard error where standard output goes (one
	// local file descriptor for both). ssh carries the two streams apart,
	// so their relative order is lost, except when the arguments are
	// quoted: then the remote line also gets 2>&1 and the order is kept.
	StderrToStdout bool
	// Tty asks for a remote terminal (ssh -tt). [Cmd.StartPty] sets it.
	// The session has no escape character (ssh -e none): every byte
	// reaches the remote side.
	Tty bool

	// QuoteArgs says whether Args are quoted; see [QuoteMode].
	QuoteArgs QuoteMode
	// GlobQuoting quotes arguments so that the remote shell still expands
	// wildcards in them (Net::OpenSSH's glob_quoting). It needs quoting on.
	GlobQuoting bool
	// RemoteShell names the quoter for this command instead of the
	// Master's (Options.RemoteShell). As in Net::OpenSSH it needs quoting
	// on: with one argument and QuoteAuto it is an error.
	RemoteShell string
	// SSHOpts are extra options for the slave ssh. When non-nil they
	// replace Options.DefaultSSHOpts (as ssh_opts does in Net::OpenSSH).
	SSHOpts []string
	// ForwardAgent (-A) and ForwardX11 (-X) ask for forwarding on this
	// session; the master's connection must allow it.
	ForwardAgent bool
	ForwardX11   bool
	// Subsystem runs Args[0] as an ssh subsystem (ssh -s), such as "sftp".
	// It needs exactly one argument and no Dir or Env.
	Subsystem bool

	// IdleTimeout, when positive, ends the command after that long without
	// a byte moving on any stream the library copies (Stdin, Stdout,
	// Stderr and the pipes of StdinPipe, StdoutPipe and StderrPipe; with it
	// set, *os.File streams are copied too). The error matches
	// [ErrTimeout]. The command is then stopped as on ctx cancellation (see
	// [Cmd]): the remote process group gets SIGTERM and the local side
	// ends, so Wait returns within IdleTimeout plus a short grace whatever
	// the remote command does. With KeepRemote, the library closes its ends
	// of the pipes and ends the local ssh at once. It cannot be used with
	// StartPty, StartSocket or StartPipedTo, whose streams the library does
	// not see.
	IdleTimeout time.Duration
	// KillOnTimeout is kept for Net::OpenSSH's kill_ssh_on_timeout, which
	// it maps: IdleTimeout always ends the command now (the remote one
	// unless KeepRemote is set, and the local ssh), so it changes nothing.
	KillOnTimeout bool

	// KeepRemote leaves the remote command running when the caller gives
	// up (ctx, IdleTimeout): only the local side ends, and the command
	// line is sent without the wrapper (see [Cmd]), so [Cmd.Signal]
	// cannot be used.
	KeepRemote bool
	// StopGrace is the time between SIGTERM and SIGKILL when the remote
	// command is stopped; zero means WaitDelay, or 1 s when that is zero
	// too.
	StopGrace time.Duration

	// Dir runs the command in that remote directory: the remote line is
	// prefixed with "cd <dir> || exit 1; " (%VAR% expanded, quoted). It
	// assumes a POSIX shell.
	Dir string
	// Env sets remote environment variables, each "NAME=value": the remote
	// line is prefixed with "export NAME=<value> ...; " (values quoted). It
	// assumes a POSIX shell; names must be [A-Za-z_][A-Za-z0-9_]*.
	Env []string

	// WaitDelay bounds how long Wait waits for the copying of streams after
	// ssh has exited (then it closes the pipes), and is the grace period of
	// the kill escalation. Zero waits for the copying without limit, with
	// a 1 s grace period.
	WaitDelay time.Duration

	// Process is the local ssh process, once started. It stays nil when
	// the command runs over [TransportMux].
	Process *os.Process
	// ProcessState is the state of the local ssh process after Wait (nil
	// over [TransportMux]).
	ProcessState *os.ProcessState

	m   *Master
	ctx context.Context

	noDefaults bool // pipe_in, pipe_out, make_remote_command: no default streams, no DefaultSSHOpts
	noExtended bool // no extended redirections

	// pipes created by StdinPipe, StdoutPipe, StderrPipe: child end, our end
	inPipeR, inPipeW   *os.File
	outPipeR, outPipeW *os.File
	errPipeR, errPipeW *os.File

	started  bool
	finished bool
	line     string
	sess     session   // the running session, whatever the transport
	ptm      *os.File  // StartPty: the pty's master side, for SetWinsize
	local    *exec.Cmd // StartPipedTo
	slot     bool
	t0       time.Time
	lastAct  atomic.Int64
	sshTail  *tailBuffer // what ssh wrote on a stderr the library copies
	libErr   bool        // sshTail is the whole (library-captured) stderr
	ours     []*os.File  // our ends of copied streams: closed on idle timeout
	afterW   []io.Closer // closed after Wait
	copyWG   sync.WaitGroup
	copyMu   sync.Mutex
	copyErr  error
	exited   chan struct{}
	watchEnd chan struct{}
	failMu   sync.Mutex
	fail     error         // first error from ctx or the idle timer
	rr       *remoteRun    // the wrapper's file and token; nil when not wrapped
	stopDone chan struct{} // closed when the stop session has ended
	sudo     *sudoRun      // SetSudo (sudo.go)
}

// Command returns a [Cmd] that runs args on the remote host when started.
// Nothing runs and nothing is checked until then. ctx bounds the whole run,
// from waiting for the master and for a session slot to the exit of ssh.
func (m *Master) Command(ctx context.Context, args ...string) *Cmd {
	return &Cmd{Args: args, m: m, ctx: ctx}
}

// errStarted is returned by methods that need a Cmd that has not started.
func errStarted(what string) error {
	return &ArgError{Arg: "Cmd", Reason: what + " after Start"}
}

// StdinPipe returns a pipe connected to the command's standard input, as
// [exec.Cmd.StdinPipe]: closing it sends EOF; Wait closes it after the
// command exits.
func (c *Cmd) StdinPipe() (io.WriteCloser, error) {
	if c.started {
		return nil, errStarted("StdinPipe")
	}
	if c.Stdin != nil || c.inPipeR != nil {
		return nil, &ArgError{Arg: "Stdin", Reason: "already set"}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, c.pipeErr(err)
	}
	c.inPipeR, c.inPipeW = r, w
	wc := &closeOnce{File: w}
	c.afterW = append(c.afterW, wc)
	c.ours = append(c.ours, w)
	return c.encodePipeIn(&actWriteCloser{wc: wc, c: c}), nil
}

// StdoutPipe returns a pipe connected to the command's standard output, as
// [exec.Cmd.StdoutPipe]: read it to EOF before calling Wait, which closes
// it.
func (c *Cmd) StdoutPipe() (io.ReadCloser, error) {
	if c.started {
		return nil, errStarted("StdoutPipe")
	}
	if c.Stdout != nil || c.outPipeW != nil {
		return nil, &ArgError{Arg: "Stdout", Reason: "already set"}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, c.pipeErr(err)
	}
	c.outPipeR, c.outPipeW = r, w
	c.afterW = append(c.afterW, r)
	if growPipe(w) {
		// A stream read in bulk (PipeOut into io.Copy): with the
		// default 64 KiB the master and the reader take turns every
		// 64 KiB.
		c.afterW = append(c.afterW, &pipeRelease{})
	}
	c.ours = append(c.ours, r)
	return c.encodePipeOut(&actReadCloser{r: r, c: c}), nil
}

// StderrPipe returns a pipe connected to the command's standard error, as
// [exec.Cmd.StderrPipe].
func (c *Cmd) StderrPipe() (io.ReadCloser, error) {
	if c.started {
		return nil, errStarted("StderrPipe")
	}
	if c.Stderr != nil || c.errPipeW != nil {
		return nil, &ArgError{Arg: "Stderr", Reason: "already set"}
	}
	if c.StderrToStdout {
		return nil, &ArgError{Arg: "Stderr", Reason: "StderrToStdout is set"}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, c.pipeErr(err)
	}
	c.errPipeR, c.errPipeW = r, w
	c.afterW = append(c.afterW, r)
	c.ours = append(c.ours, r)
	return c.encodePipeOut(&actReadCloser{r: r, c: c}), nil
}

func (c *Cmd) pipeErr(err error) error {
	host := ""
	if c.m != nil {
		host = c.m.host
	}
	return &Error{Code: CodeSlavePipeFailed, Op: "command", Host: host, Err: err}
}

// Start starts the command and returns without waiting for it; call
// [Cmd.Wait] to reap it. It waits for the master and, when
// Options.MaxSessions is reached, for a free session slot, both bounded by
// ctx. Bad fields are refused with an [*ArgError] before anything runs.
func (c *Cmd) Start() error { return c.start(startArgs{}) }

// startArgs are what the special start methods give ssh's stdio.
type startArgs struct {
	tty   *os.File  // the pty's terminal side: stdin, stdout (and stderr)
	sock  *os.File  // a socketpair end: stdin and stdout
	local *exec.Cmd // StartPipedTo: started with the other end
	other *os.File  // the other end of sock, for local
}

// StartPty starts the command with a pseudo-terminal as ssh's stdin and
// stdout (and stderr, unless Stderr or StderrPipe is set) and a remote tty
// (ssh -tt); it returns the pty's master side, sized 24x80. Reading it
// gives what the remote terminal shows, writing it types. Resize it with
// [Cmd.SetWinsize], which works on both transports (a plain
// [pty.Setsize] on the returned file reaches the remote side only with
// TransportProcess, where ssh itself watches the pty). Closing it hangs up
// the remote command. Stdin and Stdout must be nil. Net::OpenSSH's
// open2pty and open3pty.
func (c *Cmd) StartPty() (*os.File, error) {
	if c.started {
		return nil, errStarted("StartPty")
	}
	if c.Stdin != nil || c.Stdout != nil || c.inPipeR != nil || c.outPipeW != nil {
		return nil, &ArgError{Arg: "Cmd", Reason: "StartPty needs Stdin and Stdout nil"}
	}
	if c.IdleTimeout > 0 {
		return nil, &ArgError{Arg: "IdleTimeout", Reason: "not supported with StartPty"}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	ptm, tty, err := pty.Open()
	if err != nil {
		return nil, c.pipeErr(err)
	}
	_ = pty.Setsize(ptm, &pty.Winsize{Rows: 24, Cols: 80})
	c.Tty = true
	if err := c.start(startArgs{tty: tty}); err != nil {
		ptm.Close()
		return nil, err
	}
	c.ptm = ptm
	return ptm, nil
}

// SetWinsize sets the size of the terminal of a command started with
// [Cmd.StartPty] and makes the remote side see it (the remote program gets
// SIGWINCH), on both transports: with TransportProcess the kernel signals
// the local ssh, whose controlling terminal the pty is; with TransportMux
// the library does what ssh's mux client does on SIGWINCH and signals the
// master, which reads the new size from the pty it holds.
func (c *Cmd) SetWinsize(rows, cols uint16) error {
	if c.ptm == nil {
		return &ArgError{Arg: "Cmd", Reason: "SetWinsize needs a command started with StartPty"}
	}
	if err := pty.Setsize(c.ptm, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		return c.pipeErr(err)
	}
	if err := c.sess.winch(); err != nil {
		return &Error{Code: CodeSlaveFailed, Op: "resize terminal", Host: c.m.host, Err: err}
	}
	return nil
}

// StartSocket starts the command with one end of a Unix socketpair as
// ssh's stdin and stdout and returns the other end as a [net.Conn]: writes
// go to the remote standard input, reads come from its standard output.
// CloseWrite on the conn (a *net.UnixConn) sends EOF. Stdin and Stdout must
// be nil. Net::OpenSSH's open2socket.
func (c *Cmd) StartSocket() (net.Conn, error) {
	if c.started {
		return nil, errStarted("StartSocket")
	}
	if c.Stdin != nil || c.Stdout != nil || c.inPipeR != nil || c.outPipeW != nil {
		return nil, &ArgError{Arg: "Cmd", Reason: "StartSocket needs Stdin and Stdout nil"}
	}
	if c.IdleTimeout > 0 {
		return nil, &ArgError{Arg: "IdleTimeout", Reason: "not supported with StartSocket"}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, c.pipeErr(err)
	}
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, c.pipeErr(err)
	}
	if err := c.start(startArgs{sock: theirs}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// StartPipedTo starts local and the remote command with local's standard
// input and output connected to the remote command's standard output and
// input, through a socketpair (Net::OpenSSH's stdinout_dpipe): local reads
// what the remote command prints and the remote command reads what local
// prints. local must not have been started and its Stdin and Stdout must be
// nil; its Stderr is its own. The Cmd's Stdin and Stdout must be nil.
// [Cmd.Wait] waits for both processes and returns ssh's error first, then
// local's.
func (c *Cmd) StartPipedTo(local *exec.Cmd) error {
	if c.started {
		return errStarted("StartPipedTo")
	}
	if local == nil || local.Process != nil || local.Stdin != nil || local.Stdout != nil {
		return &ArgError{Arg: "local", Reason: "want an unstarted *exec.Cmd with Stdin and Stdout nil"}
	}
	if c.Stdin != nil || c.Stdout != nil || c.inPipeR != nil || c.outPipeW != nil {
		return &ArgError{Arg: "Cmd", Reason: "StartPipedTo needs Stdin and Stdout nil"}
	}
	if c.IdleTimeout > 0 {
		return &ArgError{Arg: "IdleTimeout", Reason: "not supported with StartPipedTo"}
	}
	if err := c.validate(); err != nil {
		return err
	}
	a, b, err := socketPair()
	if err != nil {
		return c.pipeErr(err)
	}
	return c.start(startArgs{sock: b, local: local, other: a})
}

// start does the work of every Start method.
func (c *Cmd) start(sa startArgs) (err error) {
	if err := c.interpose(); err != nil {
		return err
	}
	var childFiles []*os.File // closed once ssh has started (or on failure)
	if sa.tty != nil {
		childFiles = append(childFiles, sa.tty)
	}
	if sa.sock != nil {
		childFiles = append(childFiles, sa.sock)
	}
	if sa.other != nil {
		childFiles = append(childFiles, sa.other)
	}
	for _, f := range []*os.File{c.inPipeR, c.outPipeW, c.errPipeW} {
		if f != nil {
			childFiles = append(childFiles, f)
		}
	}
	defer func() {
		for _, f := range childFiles {
			f.Close()
		}
		if err != nil {
			c.cleanupFailedStart()
		}
	}()
	if c.started {
		return errStarted("Start")
	}
	c.started = true
	if err := c.validate(); err != nil {
		return err
	}
	if (sa.tty != nil || sa.sock != nil) && c.IdleTimeout > 0 {
		return &ArgError{Arg: "IdleTimeout", Reason: "not supported with a pty or socket"}
	}
	m := c.m
	if err := m.WaitForMaster(c.ctx); err != nil {
		return err
	}
	in, out, errw := c.defaults()
	if out == io.Discard {
		out = nil
	}
	if errw == io.Discard {
		errw = nil
	}
	inD, outD, errD := c.discards()
	if sa.tty != nil || sa.sock != nil {
		inD, outD = false, false
		if sa.tty != nil && c.Stderr == nil && c.errPipeW == nil {
			errD = false
		}
	}
	line, err := c.buildLine(inD, outD, errD)
	if err != nil {
		return err
	}
	c.line = line
	b := m.backendFor(c.ownSSHOpts())
	c.t0 = time.Now()
	var fin, fout, ferr *os.File // ssh's stdio; nil is /dev/null
	idle := c.IdleTimeout > 0

	// stdin
	switch {
	case sa.tty != nil:
		fin = sa.tty
	case sa.sock != nil:
		fin = sa.sock
	case c.inPipeR != nil:
		fin = c.inPipeR
	case in == nil:
	default:
		if f, ok := osFile(in); ok && !idle {
			fin = f
			break
		}
		r, w, err := os.Pipe()
		if err != nil {
			return c.pipeErr(err)
		}
		childFiles = append(childFiles, r)
		c.ours = append(c.ours, w)
		fin = r
		c.copyWG.Add(1)
		go c.copyIn(w, in)
	}
	// stdout
	switch {
	case sa.tty != nil:
		fout = sa.tty
	case sa.sock != nil:
		fout = sa.sock
	case c.outPipeW != nil:
		fout = c.outPipeW
	case out == nil:
		if c.StderrToStdout {
			// Both go to the tail, so ssh's diagnostics are kept.
			w, err := c.tailPipe(nil, &childFiles)
			if err != nil {
				return err
			}
			fout = w
		}
	default:
		if f, ok := osFile(out); ok && !idle {
			fout = f
			break
		}
		r, w, err := os.Pipe()
		if err != nil {
			return c.pipeErr(err)
		}
		childFiles = append(childFiles, w)
		c.ours = append(c.ours, r)
		fout = w
		c.copyWG.Add(1)
		grown := growPipe(w) // bulk output (Capture): fewer wake-ups
		go func() {
			c.copyOut(out, r, nil)
			if grown {
				releasePipe()
			}
		}()
	}
	// stderr
	switch {
	case c.StderrToStdout:
		ferr = fout
	case c.errPipeW != nil:
		ferr = c.errPipeW
	case sa.tty != nil && c.Stderr == nil:
		// The remote stderr arrives on the pty with stdout; what else
		// reaches stderr is ssh's own messages (process transport): copy
		// them to the pty and keep their tail for errors. The copy holds
		// its own descriptor of the pty's terminal side until the session
		// has ended.
		tty, err := dupFile(sa.tty)
		if err != nil {
			return c.pipeErr(err)
		}
		w, err := c.tailPipe(&ttyWriter{tty}, &childFiles)
		if err != nil {
			tty.Close()
			return err
		}
		c.libErr = true
		ferr = w
	case errw == nil:
		w, err := c.tailPipe(nil, &childFiles)
		if err != nil {
			return err
		}
		c.libErr = true
		ferr = w
	default:
		if f, ok := osFile(errw); ok && !idle {
			ferr = f
			break
		}
		w, err := c.tailPipe(errw, &childFiles)
		if err != nil {
			return err
		}
		ferr = w
	}

	// A session slot, then the process.
	if m.sessions != nil {
		select {
		case m.sessions <- struct{}{}:
			c.slot = true
		case <-c.ctx.Done():
			return c.ctxError(c.ctx.Err())
		}
	}
	if sa.local != nil {
		sa.local.Stdin = sa.other
		sa.local.Stdout = sa.other
		if err := sa.local.Start(); err != nil {
			return &Error{Code: CodeSlaveFailed, Op: "command", Host: m.host, Err: fmt.Errorf("starting local command: %w", err)}
		}
		c.local = sa.local
	}
	c.exited = make(chan struct{})
	req := c.request(c.wrapLine(line))
	req.ownTTY, req.ttyCtl = sa.tty != nil, sa.tty != nil
	req.stdin, req.stdout, req.stderr = fin, fout, ferr
	sess, err := b.startSession(c.ctx, req)
	if err != nil {
		if c.local != nil {
			c.local.Process.Kill()
			c.local.Wait()
			c.local = nil
		}
		return err
	}
	c.sess = sess
	c.Process = sess.process()
	if c.ctx.Done() != nil || idle {
		c.watchEnd = make(chan struct{})
		go c.watch()
	}
	return nil
}

// request returns the session request of the command line line, without
// its stdio.
func (c *Cmd) request(line string) *sessionReq {
	return &sessionReq{
		line:       line,
		hasCommand: len(c.Args) > 0,
		subsystem:  c.Subsystem,
		tty:        c.Tty,
		agent:      c.ForwardAgent,
		x11:        c.ForwardX11,
		sshOpts:    c.sshOpts(),
	}
}

// backendFor returns the backend that carries a session with the given
// ssh options of its own: the control-socket protocol cannot carry them,
// so they need a process whatever the transport.
func (m *Master) backendFor(sshOpts []string) backend {
	if len(sshOpts) > 0 {
		return m.proc
	}
	return m.be
}

// cleanupFailedStart releases what a failed start holds.
func (c *Cmd) cleanupFailedStart() {
	c.sudo.ended()
	for _, f := range c.ours {
		f.Close()
	}
	for _, cl := range c.afterW {
		cl.Close()
	}
	c.copyWG.Wait()
	if c.slot {
		<-c.m.sessions
		c.slot = false
	}
	c.releaseRemote()
	c.rr = nil
}

// Wait waits for the command to exit and for the copying of its streams,
// and releases its session slot. The first failure wins: ctx and the idle
// timeout give an [*Error] (see [Cmd]); a non-zero exit is an [*ExitError]
// with the remote status. Status 255 is ambiguous: ssh uses it for its own
// failures, a remote command may exit with it, and the mux client of
// OpenSSH (checked with 9.2) also reports a remote process killed by a
// signal as 255 and prints nothing. When the remote shell is of the POSIX
// family and the command was wrapped (see [Cmd]), the wrapper records the
// signal that killed the shell (INT, QUIT, TERM, USR1, USR2, ALRM or PIPE;
// not KILL, which cannot be caught, nor HUP, see remotectl.go), and on 255
// Wait reads it through a second session and sets [ExitError.Signal]. A
// status of 128+n is left as it is: it is what a shell reports for a child
// killed by signal n, or a plain exit with that status, and the two cannot
// be told apart. On 255 the library also checks the master: when it is
// gone, or ssh said the session was refused or its control socket failed,
// the error is an [*Error] with code CodeSlaveFailed whose chain holds the
// master's failure (errors.Is(err, ErrMasterGone) when the master died).
// Otherwise 255 stays an [*ExitError]. A failure to copy a stream (a Writer
// returning an error) is an [*Error] with code CodeSlavePipeFailed.
func (c *Cmd) Wait() error {
	if !c.started || c.sess == nil {
		return &ArgError{Arg: "Cmd", Reason: "Wait before a successful Start"}
	}
	if c.finished {
		return &ArgError{Arg: "Cmd", Reason: "Wait called twice"}
	}
	c.finished = true
	c.sess.wait()
	c.sudo.ended()
	close(c.exited)
	if c.watchEnd != nil {
		<-c.watchEnd
	}
	c.ProcessState = c.sess.state()
	// Our stdin ends are useless now; closing them frees a blocked writer.
	if c.inPipeW != nil {
		c.inPipeW.Close()
	}
	if c.getFail() != nil {
		// Killed or timed out: the master still holds the other ends of
		// the pipes (ssh passed them to it) until the remote command ends,
		// so EOF may be far off. Stop reading now.
		for _, f := range c.ours {
			f.Close()
		}
	}
	c.waitCopies()
	for _, cl := range c.afterW {
		cl.Close()
	}
	// Before the slot goes: a signal is read through a session.
	xerr := c.sess.exitError(c)
	if ee, ok := xerr.(*ExitError); ok && ee.Code == 255 && c.getFail() == nil {
		ee.Signal = c.remoteSignal()
	}
	c.releaseRemote()
	if c.slot {
		c.m.releaseSessionAfter(c.sess.linger())
		c.slot = false
	}
	var lerr error
	if c.local != nil {
		lerr = c.local.Wait()
	}
	if err := c.getFail(); err != nil {
		c.m.log.Debug("openssh: command ended", "host", c.m.host, "err", err)
		return err
	}
	if err := c.sudo.err(c.m.host); err != nil {
		return err
	}
	c.m.log.Debug("openssh: command ended", "host", c.m.host, "err", xerr)
	if xerr != nil {
		return xerr
	}
	c.copyMu.Lock()
	cerr := c.copyErr
	c.copyMu.Unlock()
	if cerr != nil {
		return &Error{Code: CodeSlavePipeFailed, Op: "command", Host: c.m.host, Err: cerr}
	}
	if lerr != nil {
		return &Error{Code: CodeSlaveFailed, Op: "local command", Host: c.m.host, Err: lerr}
	}
	return nil
}

// masterLost returns the error of a session that failed because the master
// is gone, or nil when the master still answers.
func (c *Cmd) masterLost() error {
	if err := c.m.lost(); err != nil {
		return &Error{Code: CodeSlaveFailed, Op: "command", Host: c.m.host, Err: err}
	}
	return nil
}

// Run starts the command and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the command and returns its standard output, as
// [exec.Cmd.Output]; when Stderr is nil the tail of the standard error is
// in the [*ExitError].
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil || c.outPipeW != nil {
		return nil, &ArgError{Arg: "Stdout", Reason: "already set"}
	}
	var b lockedBuffer
	c.Stdout = &b
	err := c.Run()
	return b.Bytes(), err
}

// CombinedOutput runs the command and returns its standard output and
// standard error together (one file descriptor for both).
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil || c.outPipeW != nil || c.errPipeW != nil {
		return nil, &ArgError{Arg: "Stdout", Reason: "already set"}
	}
	var b lockedBuffer
	c.Stdout = &b
	c.StderrToStdout = true
	err := c.Run()
	return b.Bytes(), err
}

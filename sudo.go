package openssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"time"
)

// ErrSudo matches the errors of commands run through sudo that failed
// before the command itself started: a wrong password (which matches
// [ErrAuth] too), a user sudo refuses, no sudo prompt in time.
var ErrSudo = errors.New("openssh: sudo failed")

// SudoOptions says how [Cmd.SetSudo] runs a command through sudo.
type SudoOptions struct {
	// Password is typed at sudo's prompt. Empty means none is expected
	// (NOPASSWD, or credentials sudo has cached): a prompt then fails the
	// command with [ErrAuth].
	Password string
	// User runs the command as that user (sudo -u) instead of root.
	User string
	// PromptTimeout bounds the wait for sudo to prompt or to start the
	// command (30 s when zero); after it the command fails with [ErrSudo].
	PromptTimeout time.Duration
}

// Sudo returns a [Cmd] that runs args as root through sudo with password
// (Fabric's sudo; Net::OpenSSH's documented recipe done safely): a
// shorthand for m.Command(ctx, args...).SetSudo(SudoOptions{Password:
// password}).
func (m *Master) Sudo(ctx context.Context, password string, args ...string) *Cmd {
	return m.Command(ctx, args...).SetSudo(SudoOptions{Password: password})
}

// SetSudo makes c run through sudo on the remote host and returns c. The
// password never appears in an argument or the environment of any
// process, local or remote, nor in logs: it is written on the command's
// standard input (sudo -S) when, and only when, sudo has printed a prompt
// unique to this run; once sudo has started the command, the caller's
// Stdin (or StdinPipe) is copied to it. A wrong password fails the
// command at sudo's second prompt, without waiting, with an [*Error]
// matching [ErrSudo] and [ErrAuth]; other failures of sudo itself match
// [ErrSudo]. Errors of the command are what they are without sudo.
//
// What sudo prints before the command starts (its prompts, a lecture) is
// kept from Stderr and goes into those errors. The command line (Args,
// Dir, Env, as quoting makes it) runs under "sh -c" as the target user,
// so it needs a POSIX shell on the remote host, and Env reaches the
// command despite sudo's env_reset. With StderrToStdout the remote
// standard error is sent to standard output on the remote side. When ctx
// ends (or [Cmd.Signal] sends TERM, HUP or INT), the whole command is
// stopped with TERM as the target user, which the caller's own signal
// could not do. SetSudo cannot be used with Tty, [Cmd.StartPty] or
// Subsystem, nor without Args. Call it before Start.
func (c *Cmd) SetSudo(opts SudoOptions) *Cmd {
	c.sudo = &sudoRun{opts: opts}
	return c
}

// interpose puts the stream encodings and the sudo conversation between
// c's streams and the caller's, at the start of Start (before the streams
// are set up).
func (c *Cmd) interpose() error {
	if c.started || c.m == nil { // validate reports both
		return nil
	}
	c.encodeStreams()
	if err := c.sudo.prepare(c); err != nil {
		c.started = true
		return err
	}
	return nil
}

// sudoRun is the state of one command run through sudo.
type sudoRun struct {
	opts     SudoOptions
	host     string
	prompt   string // unique, given to sudo -p
	marker   string // printed on stderr once sudo has started the command
	mergeErr bool   // StderrToStdout: 2>&1 inside sudo

	src      io.Reader // the caller's stdin, after authentication
	dst      io.Writer // the caller's stderr, after authentication
	password []byte

	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte // password bytes to write on stdin
	prompts int
	authed  bool // the marker was seen: the command runs
	done    bool // the session is over (or never started)
	fail    error
	pre     bytes.Buffer // stderr before the marker (sudo's own)
	scan    []byte       // the unmatched tail of pre, for tokens split across writes
	timer   *time.Timer
}

// prepare checks c and interposes the sudo conversation between c's
// streams and the caller's. It runs at the start of Start.
func (s *sudoRun) prepare(c *Cmd) error {
	if s == nil {
		return nil
	}
	switch {
	case len(c.Args) == 0:
		return &ArgError{Arg: "Args", Reason: "sudo needs a command"}
	case c.Tty:
		return &ArgError{Arg: "Tty", Reason: "sudo reads its password on standard input, which a tty would echo"}
	case c.Subsystem:
		return &ArgError{Arg: "Subsystem", Reason: "a subsystem cannot run through sudo"}
	}
	if err := checkArgs("SudoOptions.User", []string{s.opts.User}); err != nil {
		return err
	}
	if s.opts.User != "" {
		if err := checkUser(s.opts.User); err != nil {
			return err
		}
	}
	if s.opts.PromptTimeout < 0 {
		return &ArgError{Arg: "SudoOptions.PromptTimeout", Value: s.opts.PromptTimeout.String(), Reason: "negative"}
	}
	s.cond = sync.NewCond(&s.mu)
	s.host = c.m.host
	s.prompt = "[sudo:" + randomToken() + "]"
	s.marker = "[started:" + randomToken() + "]"
	s.password = []byte(s.opts.Password)

	// stdin
	if c.inPipeR != nil {
		s.src = c.inPipeR
		c.afterW = append(c.afterW, c.inPipeR)
		c.inPipeR = nil
	} else {
		s.src = c.Stdin
		if s.src == nil && !c.noDefaults {
			s.src = c.m.opts.DefaultStdin
		}
	}
	c.Stdin = &sudoStdin{s}
	// stderr
	if c.StderrToStdout {
		c.StderrToStdout = false
		s.mergeErr = true
	} else if c.errPipeW != nil {
		s.dst = c.errPipeW
		c.afterW = append(c.afterW, c.errPipeW)
		c.errPipeW = nil
	} else {
		s.dst = c.Stderr
		if s.dst == nil && !c.noDefaults {
			s.dst = c.m.opts.DefaultStderr
		}
		if s.dst == io.Discard {
			s.dst = nil
		}
	}
	c.Stderr = &sudoStderr{s}
	d := s.opts.PromptTimeout
	if d == 0 {
		d = 30 * time.Second
	}
	s.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.authed && s.fail == nil && !s.done {
			s.failLocked(&Error{Code: CodeSlaveFailed, Op: "sudo", Host: s.host, Err: ErrSudo,
				Detail: "sudo neither prompted nor started the command within " + d.String() + s.saidLocked()})
		}
	})
	return nil
}

func randomToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// wrap turns the command line into the sudo line, quoted with q.
func (s *sudoRun) wrap(q Quoter, line string) (string, error) {
	// sudo relays a TERM only to its child, this root shell, which would
	// die and leave the command running (the caller cannot signal root's
	// processes). So the line runs in the background, with the shell's
	// stdin (fd 3 keeps it from the /dev/null of background jobs), and
	// the shell waits for it; a TERM, HUP or INT makes the shell signal
	// its whole process group, as root. sudo ignores a signal from its
	// own group, so nothing loops.
	script := "printf %s '" + s.marker + "' >&2; "
	if s.mergeErr {
		script += "exec 2>&1; "
	}
	script += `exec 3<&0; eval "$1" <&3 3<&- & exec 3<&-; ` +
		`trap 'trap - TERM; kill -TERM 0 2>/dev/null' TERM HUP INT; ` +
		`while :; do wait $!; s=$?; kill -0 $! 2>/dev/null || exit $s; done`
	args := []string{"sudo", "-S", "-p", s.prompt}
	if s.opts.User != "" {
		args = append(args, "-u", s.opts.User)
	}
	args = append(args, "--", "sh", "-c", script, "sh", line)
	return quoteArgs(q, false, args)
}

// failLocked records the first failure and ends the conversation: stdin
// returns EOF, so a sudo waiting for a password gives up at once.
func (s *sudoRun) failLocked(err error) {
	if s.fail == nil {
		s.fail = err
	}
	clear(s.pending)
	s.pending = nil
	s.cond.Broadcast()
}

// saidLocked returns sudo's last line before the command, for a message.
func (s *sudoRun) saidLocked() string {
	if l := lastLine(s.pre.Bytes()); l != "" {
		return " (sudo said: " + l + ")"
	}
	return ""
}

// ended is called when the session is over (or failed to start).
func (s *sudoRun) ended() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.done = true
	s.timer.Stop()
	clear(s.password)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// err returns the error of a run in which sudo never started the command.
func (s *sudoRun) err(host string) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.fail != nil:
		return s.fail
	case s.authed:
		return nil
	case s.prompts > 0:
		return &Error{Code: CodeSlaveFailed, Op: "sudo", Host: host, Err: errSudoAuth, Detail: lastLine(s.pre.Bytes())}
	}
	return &Error{Code: CodeSlaveFailed, Op: "sudo", Host: host, Err: ErrSudo, Detail: lastLine(s.pre.Bytes())}
}

// errSudoAuth is a password sudo refused: it matches ErrSudo and ErrAuth.
var errSudoAuth error = sudoAuthError{}

type sudoAuthError struct{}

func (sudoAuthError) Error() string { return "openssh: sudo refused the password" }

func (sudoAuthError) Is(target error) bool { return target == ErrSudo || target == ErrAuth }

// sudoStdin is the command's stdin: the password when sudo prompts, then
// the caller's stdin once the command has started.
type sudoStdin struct{ s *sudoRun }

func (r *sudoStdin) Read(p []byte) (int, error) {
	s := r.s
	s.mu.Lock()
	for {
		switch {
		case len(s.pending) > 0:
			n := copy(p, s.pending)
			clear(s.pending[:n]) // no copy of the password left behind
			s.pending = s.pending[n:]
			s.mu.Unlock()
			return n, nil
		case s.fail != nil || s.done && !s.authed:
			s.mu.Unlock()
			return 0, io.EOF
		case s.authed:
			s.mu.Unlock()
			if s.src == nil {
				return 0, io.EOF
			}
			return s.src.Read(p)
		}
		s.cond.Wait()
	}
}

// sudoStderr is the command's stderr: it watches for the prompt and the
// marker, keeps sudo's own output, and passes the rest to the caller.
type sudoStderr struct{ s *sudoRun }

func (w *sudoStderr) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	if s.authed {
		s.mu.Unlock()
		return w.pass(p)
	}
	s.scan = append(s.scan, p...)
	for {
		ip := bytes.Index(s.scan, []byte(s.prompt))
		im := bytes.Index(s.scan, []byte(s.marker))
		if im >= 0 && (ip < 0 || im < ip) {
			s.pre.Write(s.scan[:im])
			rest := s.scan[im+len(s.marker):]
			s.scan = nil
			s.authed = true
			s.timer.Stop()
			clear(s.password)
			s.cond.Broadcast()
			s.mu.Unlock()
			if len(rest) > 0 {
				w.pass(rest)
			}
			return len(p), nil
		}
		if ip < 0 {
			break
		}
		s.pre.Write(s.scan[:ip+len(s.prompt)])
		s.scan = s.scan[ip+len(s.prompt):]
		s.prompts++
		switch {
		case s.fail != nil:
		case s.prompts > 1:
			s.failLocked(&Error{Code: CodeSlaveFailed, Op: "sudo", Host: s.host, Err: errSudoAuth, Detail: lastLine(s.pre.Bytes())})
		case len(s.password) == 0:
			s.failLocked(&Error{Code: CodeSlaveFailed, Op: "sudo", Host: s.host, Err: errSudoAuth, Detail: "sudo asked for a password and none was given"})
		default:
			s.pending = append(append([]byte(nil), s.password...), '\n')
			s.cond.Broadcast()
		}
	}
	// Keep only what may be the start of a token split across writes.
	keep := max(len(s.prompt), len(s.marker)) - 1
	if len(s.scan) > keep {
		s.pre.Write(s.scan[:len(s.scan)-keep])
		s.scan = s.scan[len(s.scan)-keep:]
	}
	if s.pre.Len() > 64<<10 {
		s.pre.Next(s.pre.Len() - 32<<10)
	}
	s.mu.Unlock()
	return len(p), nil
}

func (w *sudoStderr) pass(p []byte) (int, error) {
	if w.s.dst == nil {
		return len(p), nil
	}
	return w.s.dst.Write(p)
}

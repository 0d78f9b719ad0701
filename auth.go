package openssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// LoginHandler conducts a custom login on the master's terminal: a
// keyboard-interactive exchange with several prompts, a one-time code, a
// key passphrase and a password in turn. It is called once per master
// start, in its own goroutine, when ssh starts; tty reads what ssh writes on
// its terminal (prompts, questions) and writes what ssh reads there
// (answers, each ended with "\n"). The handler returns nil once it has answered
// everything; the master then waits for its control socket as usual. An
// error it returns fails the login with [ErrAuth].
//
// Once the handler has returned nil, a prompt that matches
// Options.PasswordPrompt (by default, one asking for a password or a
// passphrase) at the end of ssh's output means the answers were refused:
// the login fails with [ErrAuth] at once.
//
// ctx is cancelled when the login ends (the socket is up, the master exited,
// the timeout expired); tty's Read then returns [io.EOF]. The handler must
// not keep tty after it returns.
//
// ssh reads answers from its terminal with echo off only once it has shown
// the prompt: write an answer after reading its prompt, never before.
//
// What tty carries is what ssh writes on its terminal, and only that: the
// prompts of password, keyboard-interactive and passphrase authentication,
// and ssh's host key question ("... can't be established ... Are you sure
// you want to continue connecting (yes/no/[fingerprint])?"), which ssh
// asks only when StrictHostKeyChecking=ask is in Options.MasterOpts (the
// library's HostKeyPolicy never asks): the handler answers it "yes" or
// "no" like any prompt; returning nil without answering fails the login
// with [ErrHostKeyUnknown]. Without a handler the question fails the
// login at once. A changed host key is not a question: ssh refuses, and
// the login fails with [ErrHostKeyChanged]. ssh writes the server's
// pre-authentication banner (sshd's Banner), the name and instructions
// of a keyboard-interactive request, and its own warnings and errors to
// its standard error, not the terminal: they go to Options.MasterStderr
// (and the last line into a login error), never to tty.
type LoginHandler func(ctx context.Context, tty io.ReadWriter) error

// defaultPrompt matches ssh's password and passphrase prompts
// ("user@host's password: ", "Enter passphrase for key '...': ",
// "Password: "). It is matched only at the end of what ssh has written, so
// a ":" or "?" in a banner does not trigger an answer.
var defaultPrompt = regexp.MustCompile(`(?i)(password|passphrase)[^\n]*[:?][ \t]*$`)

// The texts ssh writes on the terminal about host keys.
var (
	unknownHostRe = regexp.MustCompile(`(?s)authenticity of host.*can't be established`)
	changedHostRe = regexp.MustCompile(`REMOTE HOST IDENTIFICATION HAS CHANGED`)
	// hostKeyQuestionRe is the end of the question, where ssh waits.
	hostKeyQuestionRe = regexp.MustCompile(`continue connecting \(yes/no[^)]*\)\?`)
)

// authState is what the master needs for a pty login.
type authState struct {
	secret     []byte // the password or passphrase; wiped by Close
	hasSecret  bool   // a secret was given (set once, never changed)
	passphrase bool   // secret is a key passphrase, not a password
	prompt     *regexp.Regexp
	handler    LoginHandler
}

// usesPty reports whether the master logs in through a pty.
func (a *authState) usesPty() bool { return a.hasSecret || a.handler != nil }

// kind names the secret for messages.
func (a *authState) kind() string {
	if a.passphrase {
		return "passphrase"
	}
	return "password"
}

// wipe zeroes the secret.
func (a *authState) wipe() {
	clear(a.secret)
	a.secret = nil
}

// setupAuth validates the authentication and connection options and moves
// the secret out of the target and Options into the Master's authState. It
// follows Net::OpenSSH: a password conflicts with a key, a passphrase and a
// login handler; a passphrase conflicts with agent forwarding.
func (m *Master) setupAuth() error {
	o := &m.opts
	o.KexAlgorithms = slices.Clone(o.KexAlgorithms)
	o.HostKeyAlgorithms = slices.Clone(o.HostKeyAlgorithms)
	o.Ciphers = slices.Clone(o.Ciphers)
	o.MACs = slices.Clone(o.MACs)

	targetPw := len(m.password) > 0
	hasPw := targetPw || o.Password != ""
	conflict := func(arg, reason string) error {
		return &ArgError{Arg: arg, Reason: reason}
	}
	switch {
	case targetPw && o.Password != "":
		return conflict("Options.Password", "the target has a password too")
	case hasPw && o.Passphrase != "":
		return conflict("Options.Passphrase", "conflicts with a password (a password login uses no key)")
	case hasPw && o.KeyPath != "":
		return conflict("Options.KeyPath", "conflicts with a password (a password login uses no key)")
	case hasPw && o.LoginHandler != nil:
		return conflict("Options.LoginHandler", "conflicts with a password")
	case o.Passphrase != "" && o.LoginHandler != nil:
		return conflict("Options.LoginHandler", "conflicts with Options.Passphrase")
	case o.Passphrase != "" && o.ForwardAgent:
		return conflict("Options.Passphrase", "conflicts with Options.ForwardAgent (the agent is kept away from a passphrase login)")
	case o.PasswordPrompt != nil && !hasPw && o.Passphrase == "" && o.LoginHandler == nil:
		return conflict("Options.PasswordPrompt", "needs a password, a passphrase or a login handler")
	case o.ExternalMaster && (hasPw || o.Passphrase != "" || o.LoginHandler != nil):
		return conflict("Options.ExternalMaster", "an external master does not log in: no password, passphrase or login handler")
	}
	var secret []byte
	switch {
	case targetPw:
		secret = append([]byte(nil), m.password...)
	case o.Password != "":
		secret = []byte(o.Password)
	case o.Passphrase != "":
		secret = []byte(o.Passphrase)
	}
	clear(m.password)
	m.password = nil
	if i := slices.IndexFunc(secret, func(c byte) bool { return c == 0 || c == '\n' || c == '\r' }); i >= 0 {
		clear(secret)
		arg := "Options.Password"
		if o.Passphrase != "" {
			arg = "Options.Passphrase"
		} else if targetPw {
			arg = "target"
		}
		// Never show the value.
		return &ArgError{Arg: arg, Value: "(secret)", Reason: "NUL or line break in a secret: ssh reads one line"}
	}
	// The copies in Options are not needed any more; the caller's strings
	// are the caller's.
	o.Password, o.Passphrase = "", ""
	m.auth = authState{
		secret:     secret,
		hasSecret:  secret != nil,
		passphrase: secret != nil && !hasPw,
		prompt:     o.PasswordPrompt,
		handler:    o.LoginHandler,
	}
	if m.auth.prompt == nil {
		m.auth.prompt = defaultPrompt
	}
	if err := m.validateHostKey(); err != nil {
		return err
	}
	return m.validateConnOpts()
}

// authArgs returns the master's authentication, host key and connection
// options:
//
//	[-o NumberOfPasswordPrompts=1]                       with a secret
//	[-o PreferredAuthentications=keyboard-interactive,password | publickey]
//	[-o BatchMode=yes]                                   unless a pty login
//	[-i key]
//	-o StrictHostKeyChecking=... [-o UserKnownHostsFile=...]
//	[typed method preferences, keepalive, agent, ...]
func (m *Master) authArgs() []string {
	a := &m.auth
	var args []string
	if a.hasSecret {
		args = append(args, "-o", "NumberOfPasswordPrompts=1")
		if a.passphrase {
			args = append(args, "-o", "PreferredAuthentications=publickey")
		} else {
			args = append(args, "-o", "PreferredAuthentications=keyboard-interactive,password")
		}
	} else if m.opts.BatchMode && !a.usesPty() {
		// As in Net::OpenSSH, BatchMode is ignored when ssh must prompt.
		args = append(args, "-o", "BatchMode=yes")
	}
	if m.opts.KeyPath != "" {
		args = append(args, "-i", m.opts.KeyPath)
		if !a.passphrase {
			args = append(args, "-o", "PreferredAuthentications=publickey")
		}
	}
	args = append(args, m.hostKeyArgs()...)
	return append(args, m.connArgs()...)
}

// ptyLogin is the conversation with one master process on its terminal.
type ptyLogin struct {
	ptmx    *os.File // our side of the pty, kept open while the master runs
	tty     *os.File // our copy of the terminal side, closed when the login ends
	secret  []byte   // a copy for this run; zeroed once written
	kind    string
	host    string
	prompt  *regexp.Regexp
	handler LoginHandler
	log     func(msg string, args ...any)

	ctx    context.Context // ends with the login
	cancel context.CancelFunc
	failed chan error // the first failure seen on the terminal

	mu     sync.Mutex
	sent   bool   // the secret was written, or the handler returned nil
	over   bool   // the login is over: stop looking at the terminal
	buf    []byte // what ssh wrote since the last answer (the last 8 KiB)
	hbuf   []byte // unread data for the handler
	hready chan struct{}
	ttyOff sync.Once
}

// prepareLogin sets cmd up for a pty login when one is needed: a new pty
// becomes ssh's controlling terminal (and nothing else: stdin stays
// /dev/null), and the environment loses what would divert ssh's prompts
// (SSH_ASKPASS) or, for a passphrase, skip them (SSH_AUTH_SOCK). It returns
// nil when no pty is needed.
func (m *Master) prepareLogin(cmd *exec.Cmd) (*ptyLogin, error) {
	a := &m.auth
	if !a.usesPty() {
		return nil, nil
	}
	ptmx, tty, err := openLoginPty()
	if err != nil {
		return nil, &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: fmt.Errorf("cannot open a pty for the login: %w", err)}
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, tty)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 2 + len(cmd.ExtraFiles) // the child's fd number of tty
	drop := []string{"SSH_ASKPASS", "SSH_ASKPASS_REQUIRE"}
	if a.passphrase {
		drop = append(drop, "SSH_AUTH_SOCK")
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(drop, k)
	})
	ctx, cancel := context.WithCancel(context.Background())
	l := &ptyLogin{
		ptmx:    ptmx,
		tty:     tty,
		kind:    a.kind(),
		host:    m.host,
		prompt:  a.prompt,
		handler: a.handler,
		log: func(msg string, args ...any) {
			m.log.Debug(msg, append([]any{"host", m.host}, args...)...)
		},
		ctx:    ctx,
		cancel: cancel,
		failed: make(chan error, 1),
		hready: make(chan struct{}, 1),
	}
	m.mu.Lock()
	if a.secret != nil {
		l.secret = append([]byte(nil), a.secret...)
	}
	m.mu.Unlock()
	if a.hasSecret && l.secret == nil {
		l.abort()
		return nil, &Error{Code: CodeMasterFailed, Op: "connect", Host: m.host, Err: ErrClosed}
	}
	return l, nil
}

// openLoginPty opens a pty whose master side supports deadlines and Close
// from another goroutine (creack/pty hands out a blocking file).
func openLoginPty() (ptmx, tty *os.File, err error) {
	p, t, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(int(p.Fd()))
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	p.Close()
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		t.Close()
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), t, nil
}

// abort releases everything when the master could not be started.
func (l *ptyLogin) abort() {
	if l == nil {
		return
	}
	l.cancel()
	clear(l.secret)
	l.ptmx.Close()
	l.closeTTY()
}

// start runs the conversation for the master process p.
func (l *ptyLogin) start(exited <-chan struct{}) {
	go l.read()
	if l.handler != nil {
		go l.runHandler()
	}
	go func() {
		// Closing our side of the pty hangs up ssh's terminal, which
		// ends ssh: keep it open for as long as the master lives.
		<-exited
		l.finish()
		l.ptmx.Close()
	}()
}

func (l *ptyLogin) closeTTY() { l.ttyOff.Do(func() { l.tty.Close() }) }

// finish ends the login conversation: the socket is up or the login
// failed. What ssh writes on the terminal afterwards is read and dropped.
func (l *ptyLogin) finish() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.over = true
	clear(l.secret)
	l.secret = nil
	l.hbuf = nil
	clear(l.buf)
	l.buf = nil
	l.mu.Unlock()
	l.cancel()
	l.closeTTY()
}

// failures returns the channel on which the conversation reports a failure
// (nil, which blocks forever, without a pty login).
func (l *ptyLogin) failures() <-chan error {
	if l == nil {
		return nil
	}
	return l.failed
}

// fail reports err once and ends the conversation.
func (l *ptyLogin) fail(err error) {
	l.mu.Lock()
	l.over = true
	l.mu.Unlock()
	select {
	case l.failed <- err:
	default:
	}
}

// read reads ssh's terminal until it is closed and watches it: host key
// questions, the prompt, the prompt coming back after the answer.
func (l *ptyLogin) read() {
	chunk := make([]byte, 4096)
	for {
		n, err := l.ptmx.Read(chunk)
		if n > 0 {
			l.see(chunk[:n])
		}
		if err != nil {
			return
		}
	}
}

// see handles one chunk of terminal output.
func (l *ptyLogin) see(data []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.over {
		return
	}
	if l.handler != nil {
		l.hbuf = append(l.hbuf, data...)
		select {
		case l.hready <- struct{}{}:
		default:
		}
	}
	buf := &l.buf
	*buf = append(*buf, data...)
	if len(*buf) > 8192 {
		*buf = append((*buf)[:0], (*buf)[len(*buf)-8192:]...)
	}
	failf := func(cause error, detail string) {
		l.over = true
		select {
		case l.failed <- &Error{Code: CodeMasterFailed, Op: "connect", Host: l.host, Err: cause, Detail: detail}:
		default:
		}
	}
	// A running handler answers ssh's host key question itself.
	handling := l.handler != nil && !l.sent
	switch {
	case unknownHostRe.Match(*buf) && !handling:
		failf(ErrHostKeyUnknown, "ssh asked whether to trust the host key")
		return
	case changedHostRe.Match(*buf):
		failf(ErrHostKeyChanged, "")
		return
	}
	if handling || !promptAtEnd(l.prompt, *buf) {
		return
	}
	if l.sent {
		// ssh asks again: the answer was refused.
		what := l.kind + " authentication failed"
		if l.handler != nil {
			what = "login failed"
		}
		failf(ErrAuth, what+": ssh prompted again")
		return
	}
	// Answer once. ssh has turned echo off before showing the prompt.
	line := make([]byte, len(l.secret)+1)
	copy(line, l.secret)
	line[len(l.secret)] = '\n'
	clear(l.secret)
	l.secret = nil
	_, err := l.ptmx.Write(line)
	clear(line)
	l.sent = true
	clear(*buf)
	*buf = (*buf)[:0]
	if err != nil {
		failf(ErrMasterExited, "cannot write to the login terminal")
		return
	}
	l.log("openssh: login prompt answered", "secret", l.kind)
}

// promptAtEnd reports whether the last match of prompt in buf is followed
// only by blanks: ssh is waiting for an answer.
func promptAtEnd(prompt *regexp.Regexp, buf []byte) bool {
	locs := prompt.FindAllIndex(buf, -1)
	if len(locs) == 0 {
		return false
	}
	end := locs[len(locs)-1][1]
	return len(strings.TrimRight(string(buf[end:]), " \t")) == 0
}

// runHandler calls the LoginHandler and records its outcome.
func (l *ptyLogin) runHandler() {
	err := l.handler(l.ctx, loginConn{l})
	if l.ctx.Err() != nil {
		return // the login is over anyway
	}
	if err != nil {
		l.fail(&Error{Code: CodeMasterFailed, Op: "connect", Host: l.host, Err: fmt.Errorf("%w: login handler: %w", ErrAuth, err)})
		return
	}
	// An answer written just before returning shows on the terminal
	// (ssh echoes it) a moment later: give it a second to appear before
	// taking the host key question as unanswered.
	var unanswered bool
	for deadline := time.Now().Add(time.Second); ; {
		l.mu.Lock()
		unanswered = promptAtEnd(hostKeyQuestionRe, l.buf)
		if !unanswered || l.over || time.Now().After(deadline) {
			l.sent = true
			clear(l.buf)
			l.buf = l.buf[:0]
			l.mu.Unlock()
			break
		}
		l.mu.Unlock()
		select {
		case <-time.After(20 * time.Millisecond):
		case <-l.ctx.Done():
			return
		}
	}
	if unanswered {
		// ssh waits for an answer that will not come.
		l.fail(&Error{Code: CodeMasterFailed, Op: "connect", Host: l.host, Err: ErrHostKeyUnknown,
			Detail: "the login handler returned without answering ssh's host key question"})
		return
	}
	l.log("openssh: login handler done")
}

// loginConn is the terminal as a LoginHandler sees it.
type loginConn struct{ l *ptyLogin }

func (c loginConn) Read(p []byte) (int, error) {
	l := c.l
	for {
		l.mu.Lock()
		if len(l.hbuf) > 0 {
			n := copy(p, l.hbuf)
			l.hbuf = l.hbuf[n:]
			l.mu.Unlock()
			return n, nil
		}
		over := l.over
		l.mu.Unlock()
		if over || l.ctx.Err() != nil {
			return 0, io.EOF
		}
		select {
		case <-l.hready:
		case <-l.ctx.Done():
		}
	}
}

func (c loginConn) Write(p []byte) (int, error) {
	if c.l.ctx.Err() != nil {
		return 0, io.ErrClosedPipe
	}
	return c.l.ptmx.Write(p)
}

// exitError refines the error of a master that exited during a pty login:
// once the secret was given (or the handler was done), an authentication
// failure or an unexplained exit is reported as a bad secret.
func (l *ptyLogin) exitError(err error) error {
	if l == nil {
		return err
	}
	l.mu.Lock()
	sent := l.sent
	l.mu.Unlock()
	var e *Error
	if !sent || !errors.As(err, &e) || !(errors.Is(e.Err, ErrAuth) || errors.Is(e.Err, ErrMasterExited)) {
		return err
	}
	what := "bad " + l.kind
	if l.handler != nil {
		what = "login refused"
	}
	detail := what + " or master process exited unexpectedly"
	if e.Detail != "" {
		detail += " (ssh said: " + e.Detail + ")"
	}
	return &Error{Code: e.Code, Op: e.Op, Host: e.Host, Err: ErrAuth, Detail: detail}
}

package openssh

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Code classifies a failure the way Net::OpenSSH's OSSH_* error constants do.
// Every [*Error] carries one; compare against the Err* sentinels with
// [errors.Is] rather than against codes.
type Code int

// The Net::OpenSSH error codes, with the same numbers.
const (
	// CodeMasterFailed: the master connection could not be established or
	// was lost. It is sticky: every later operation on the Master fails with
	// it until [Master.Restart].
	CodeMasterFailed Code = 1
	// CodeSlaveFailed: a slave process (ssh, scp, rsync) could not be run
	// or the session it asked for was refused.
	CodeSlaveFailed Code = 2
	// CodeSlavePipeFailed: a pipe, socketpair, pty or file for a slave's
	// stdio could not be set up.
	CodeSlavePipeFailed Code = 3
	// CodeSlaveTimeout: a slave saw no activity for its idle timeout, or
	// its context expired.
	CodeSlaveTimeout Code = 4
	// CodeSlaveCmdFailed: the remote command (or scp, rsync) exited with a
	// non-zero status. The error is an [*ExitError].
	CodeSlaveCmdFailed Code = 5
	// CodeSFTPFailed: the SFTP client could not be started.
	CodeSFTPFailed Code = 6
	// CodeEncodingError: an argument cannot be represented for the remote
	// shell (a NUL byte, a newline for cmd.exe).
	CodeEncodingError Code = 7
)

var codeNames = map[Code]string{
	CodeMasterFailed:    "master failed",
	CodeSlaveFailed:     "slave failed",
	CodeSlavePipeFailed: "slave pipe failed",
	CodeSlaveTimeout:    "slave timeout",
	CodeSlaveCmdFailed:  "remote command failed",
	CodeSFTPFailed:      "sftp failed",
	CodeEncodingError:   "encoding error",
}

// String returns a short description of the code.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code %d", int(c))
}

// codeError is the type of the code sentinels: an [*Error] with the same code
// matches it under [errors.Is].
type codeError struct {
	code Code
}

func (e *codeError) Error() string { return "openssh: " + e.code.String() }

// Sentinels for the seven codes. An [*Error] matches the one of its code:
// errors.Is(err, ErrMasterFailed) is true for every master failure.
var (
	ErrMasterFailed    error = &codeError{CodeMasterFailed}
	ErrSlaveFailed     error = &codeError{CodeSlaveFailed}
	ErrSlavePipeFailed error = &codeError{CodeSlavePipeFailed}
	ErrTimeout         error = &codeError{CodeSlaveTimeout}
	ErrCmdFailed       error = &codeError{CodeSlaveCmdFailed}
	ErrSFTPFailed      error = &codeError{CodeSFTPFailed}
	ErrEncoding        error = &codeError{CodeEncodingError}
)

// Finer sentinels for the causes of failures. They sit in the Err chain of
// an [*Error], so errors.Is(err, ErrAuth) and errors.Is(err, ErrMasterFailed)
// can both be true.
var (
	// ErrHostKeyUnknown: the server's host key is not in known_hosts and
	// host key checking is strict.
	ErrHostKeyUnknown = errors.New("openssh: host key unknown")
	// ErrHostKeyChanged: the server's host key does not match the one in
	// known_hosts.
	ErrHostKeyChanged = errors.New("openssh: host key changed")
	// ErrAuth: the server refused every authentication method tried.
	ErrAuth = errors.New("openssh: authentication failed")
	// ErrConnRefused: the TCP connection was refused.
	ErrConnRefused = errors.New("openssh: connection refused")
	// ErrResolve: the host name could not be resolved.
	ErrResolve = errors.New("openssh: cannot resolve host name")
	// ErrUnreachable: the connection timed out or the network is unreachable.
	ErrUnreachable = errors.New("openssh: host unreachable")
	// ErrNegotiation: client and server share no key exchange, host key,
	// cipher or MAC algorithm.
	ErrNegotiation = errors.New("openssh: no matching algorithm")
	// ErrMasterExited: the master process exited while logging in, for a
	// reason ssh did not make clear.
	ErrMasterExited = errors.New("openssh: master process exited unexpectedly")
	// ErrMasterGone: the master was running and is no longer (killed, the
	// connection dropped, its socket removed).
	ErrMasterGone = errors.New("openssh: master connection broken")
	// ErrMasterStopped: the master was told to stop accepting sessions.
	ErrMasterStopped = errors.New("openssh: master stopped")
	// ErrClosed: the Master was closed.
	ErrClosed = errors.New("openssh: master closed")
	// ErrLoginTimeout: the master did not come up within Options.Timeout.
	ErrLoginTimeout = errors.New("openssh: login timeout")
	// ErrInsecureCtlDir: the control directory or one of its parents is
	// writable by others (see [Options.AllowInsecureCtlDir]).
	ErrInsecureCtlDir = errors.New("openssh: control directory is not secure")
	// ErrInsecureCtlSocket: the socket of an external master
	// ([Options.ExternalMaster]) is owned by another user or writable by
	// group or others, so it may not be the master it claims to be (see
	// [Options.AllowInsecureCtlDir]). A socket in an insecure directory
	// gives [ErrInsecureCtlDir].
	ErrInsecureCtlSocket = errors.New("openssh: control socket is not secure")
	// ErrCtlPathTooLong: the control socket path does not fit a Unix socket
	// address.
	ErrCtlPathTooLong = errors.New("openssh: control path too long")
	// ErrInvalid: an argument or option was refused before anything ran.
	// The error is an [*ArgError].
	ErrInvalid = errors.New("openssh: invalid argument")
	// ErrNotOwner: the operation needs a master this Master started itself
	// (not an external or disowned one).
	ErrNotOwner = errors.New("openssh: master not owned")
	// ErrForwardFailed: a port forward or tunnel was refused, by the
	// master (a local port in use) or by the server (the target refused
	// the connection, forwarding is not allowed, a remote port is in use).
	ErrForwardFailed = errors.New("openssh: forwarding failed")
	// ErrForwardDenied: the server forbids the forwarding (sshd's
	// "administratively prohibited", from AllowTcpForwarding or
	// PermitOpen). It comes with [ErrForwardFailed].
	ErrForwardDenied = errors.New("openssh: forwarding denied by the server")
	// ErrSessionRefused: the master or the server refused to open a
	// session for a command (sshd's MaxSessions reached, a session open
	// refused by the peer).
	ErrSessionRefused = errors.New("openssh: session refused")
)

// Error is a failure of an operation on a [Master]. Code classifies it as
// Net::OpenSSH does; Err holds the cause, often one of the finer sentinels
// such as [ErrAuth].
type Error struct {
	Code Code   // Net::OpenSSH's classification
	Op   string // what was being done: "connect", "check", "command", ...
	Host string // the target host, without brackets
	Err  error  // the cause; may be nil
	// Detail is extra text from ssh (a stderr line), already part of the
	// message.
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openssh: ")
	if e.Op != "" {
		b.WriteString(e.Op)
	}
	if e.Host != "" {
		if e.Op != "" {
			b.WriteByte(' ')
		}
		b.WriteString(e.Host)
	}
	if e.Op != "" || e.Host != "" {
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "openssh: "))
	} else {
		b.WriteString(e.Code.String())
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	if ce, ok := target.(*codeError); ok {
		return ce.code == e.Code
	}
	return false
}

// ArgError reports an argument or option refused before anything ran: a
// host that starts with "-", a port out of range, a NUL byte. It matches
// [ErrInvalid], and [ErrEncoding] when the value cannot be represented for
// the remote shell.
type ArgError struct {
	Arg    string // the option or argument: "host", "Options.Port", "args[2]"
	Value  string // the offending value, quoted for display (never a secret)
	Reason string // why it was refused
	Err    error  // a finer sentinel, such as ErrCtlPathTooLong; may be nil
}

func (e *ArgError) Error() string {
	var b strings.Builder
	b.WriteString("openssh: invalid ")
	b.WriteString(e.Arg)
	if e.Value != "" {
		b.WriteByte(' ')
		b.WriteString(e.Value)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns the finer sentinel, if any.
func (e *ArgError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrInvalid].
func (e *ArgError) Is(target error) bool { return target == ErrInvalid }

func argErr(arg, value, reason string) *ArgError {
	return &ArgError{Arg: arg, Value: fmt.Sprintf("%q", value), Reason: reason}
}

// ExitError reports a remote command, or a local transfer program (scp,
// rsync), that ran and exited unsuccessfully. It matches [ErrCmdFailed].
//
// ssh returns the remote exit status as its own, so Code is that status;
// 255 is ambiguous (an ssh failure, a remote "exit 255", or a remote process
// killed by a signal when ssh could not say). When the status is 255 and the
// master turns out to be gone, the library reports a master failure instead.
//
// The message names what exited (the remote command, or "scp", "rsync")
// and ends with the lines of Stderr that explain the failure: the first
// lines that read as errors and the last line, each shortened, so that a
// program that prints the cause first and a summary last (scp, rsync) is
// understood from the message alone.
type ExitError struct {
	// Code is the exit status: of the local ssh process, which is the
	// remote command's status, or of the local scp or rsync.
	Code int
	// Signal is the name of the signal that killed the process, when it
	// is known; empty otherwise.
	Signal string
	// Stderr holds the tail of the standard error when it was captured by
	// the library (as exec.ExitError.Stderr).
	Stderr []byte
	// Host is the target host.
	Host string
	// Cmd is the remote command line, or the local command line of scp or
	// rsync.
	Cmd string
	// Program is the local program that exited ("scp", "rsync"); empty
	// for a remote command.
	Program string
	// ProcessState is the state of the local process (nil for a command
	// run over [TransportMux]).
	ProcessState *os.ProcessState
	// Msg is the meaning of the exit code, when the program documents one
	// (rsync's "partial transfer due to error").
	Msg string
}

func (e *ExitError) Error() string {
	var b strings.Builder
	b.WriteString("openssh: ")
	if e.Host != "" {
		b.WriteString(e.Host)
		b.WriteString(": ")
	}
	who := "remote command"
	if e.Program != "" {
		who = e.Program
	}
	switch {
	case e.Signal != "":
		fmt.Fprintf(&b, "%s killed by signal %s", who, e.Signal)
	case e.Program != "":
		fmt.Fprintf(&b, "%s exited %d", who, e.Code)
	default:
		fmt.Fprintf(&b, "%s exited with status %d", who, e.Code)
	}
	if e.Msg != "" {
		b.WriteString(" (")
		b.WriteString(e.Msg)
		b.WriteString(")")
	}
	if why := explain(e.Stderr); why != "" {
		b.WriteString(": ")
		b.WriteString(why)
	}
	return b.String()
}

// ExitCode returns the exit status.
func (e *ExitError) ExitCode() int { return e.Code }

// Is reports whether target is [ErrCmdFailed].
func (e *ExitError) Is(target error) bool { return target == ErrCmdFailed }

// lastLine returns the last non-empty line of b, trimmed and shortened.
func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n \t")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return shortLine(s)
}

// shortLine trims s and cuts it to 200 bytes.
func shortLine(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// maxExplainErrors is how many error lines explain() keeps before the last
// line.
const maxExplainErrors = 2

// explain returns the lines of a program's standard error that explain a
// failure, joined with "; ": all of them when there are at most three,
// otherwise the first lines that read as errors (at most
// maxExplainErrors; the first line when none does) and the last line, with
// "..." where lines were left out. ssh's notices that explain nothing
// ("Warning: Permanently added ...") are skipped.
func explain(b []byte) string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\r", "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || sshNotice(l) {
			continue
		}
		lines = append(lines, shortLine(l))
	}
	if len(lines) <= 3 {
		return strings.Join(lines, "; ")
	}
	last := len(lines) - 1
	var keep []int
	for i, l := range lines[:last] {
		if errorLine(l) {
			keep = append(keep, i)
			if len(keep) == maxExplainErrors {
				break
			}
		}
	}
	if len(keep) == 0 {
		keep = []int{0}
	}
	keep = append(keep, last)
	var out strings.Builder
	prev := -1
	for _, i := range keep {
		if out.Len() > 0 {
			out.WriteString("; ")
		}
		if i > prev+1 && prev >= 0 {
			out.WriteString("...; ")
		}
		out.WriteString(lines[i])
		prev = i
	}
	return out.String()
}

// sshNotice reports whether l is one of ssh's messages that never explain
// a failure.
func sshNotice(l string) bool {
	return strings.HasPrefix(l, "Warning: Permanently added") ||
		strings.HasPrefix(l, "Shared connection to ")
}

// errorLine reports whether l reads as an error message.
func errorLine(l string) bool {
	l = strings.ToLower(l)
	for _, w := range []string{"error", "fail", "denied", "no such", "not found", "cannot", "can't",
		"refused", "not permitted", "invalid", "unable", "fatal", "not a "} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

package parallel

import (
	"context"
	"io"
	"time"

	"github.com/goopenssh/openssh"
)

// Policy says what happens to a host when one of its actions fails.
// Policies are looked up in order on the action ([Action.OnError]), the host
// ([Host.OnError]) and the [Runner] (Runner.OnError); the first that is not
// [Inherit] applies, and [Abort] when all are.
type Policy int

const (
	// Inherit, the zero value, defers to the next level (action, then
	// host, then runner).
	Inherit Policy = iota
	// Abort stops the host: the rest of its queue is dropped, the error is
	// its result, and hosts joining on it get [ErrJoinFailed]. It is the
	// default.
	Abort
	// Ignore records the error in [Result.Ignored] and goes on with the
	// next action; the host does not count as failed for it.
	Ignore
	// Done stops the host as Abort does, but hosts joining on it are
	// released as if it had finished. The host still counts as failed.
	Done
	// AbortAll aborts this host and every other one: actions already
	// running finish, then each host stops at its next action with
	// [ErrAborted].
	AbortAll
	// Retry runs the action again, up to Runner.Retries times (3 when
	// zero), waiting Runner.RetryDelay (250 ms when zero) before the first
	// retry and twice as long before each next one (at most 5 s). When the
	// retries are used up the host aborts. A failed join is never retried:
	// it aborts.
	Retry
)

var policyNames = [...]string{"inherit", "abort", "ignore", "done", "abort-all", "retry"}

// String returns the policy's name: "abort", "ignore", "done", "abort-all",
// "retry" or "inherit".
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "Policy(" + itoa(int(p)) + ")"
}

// ParsePolicy returns the policy named s (as [Policy.String] names them).
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if n == s {
			return Policy(i), nil
		}
	}
	return Inherit, &openssh.ArgError{Arg: "policy", Value: quote(s), Reason: "want abort, ignore, done, abort-all or retry"}
}

type actionKind int

const (
	kCommand actionKind = iota + 1
	kFunc
	kLocal
	kPut
	kGet
	kJoin
	kHere
	kGoto
	kNotify // internal: the marker a Join leaves in the queues it waits on
)

var kindNames = map[actionKind]string{
	kCommand: "command", kFunc: "func", kLocal: "local", kPut: "put", kGet: "get",
	kJoin: "join", kHere: "here", kGoto: "goto", kNotify: "notify",
}

// Action is one step in the queue of a host. Build it with [Command],
// [Func], [Local], [Put], [Get], [Join], [Here], [Goto] or [Stop], adjust it
// with its option methods (each returns a modified copy), and queue it with
// [Runner.Push] or [Runner.All].
//
// Every host runs its own queue in order, one action at a time; hosts run
// at the same time, within the Runner's limits.
type Action struct {
	kind  actionKind
	args  []string // command args; put/get: src, dst
	fn    func(ctx context.Context, label string, m *openssh.Master) error
	local func(ctx context.Context, label string) error
	tag   string // here, goto; join: selector
	input []byte

	onError       Policy
	orGoto        string
	reconnections int // -1: inherit
	timeout       time.Duration
	setup         func(c *openssh.Cmd)

	bar *barrier // join, notify
}

// Command runs args on the host through its master, as
// [openssh.Master.Command] does (one argument is a shell command line, two
// or more are quoted one by one). In every argument "%LABEL%" becomes the
// host's label and "%%" becomes "%"; no other %NAME% is touched.
//
// The output goes to the Runner's Stdout and Stderr, each line prefixed
// with "label: ", or, when those are nil, is kept in [Result.Stdout] and
// [Result.Stderr]. A non-zero exit is an error (an [*openssh.ExitError])
// and sets [Result.ExitCode].
func Command(args ...string) Action {
	return Action{kind: kCommand, args: args, reconnections: -1}
}

// Func calls fn with the host's master, connecting first when needed. fn
// runs in the host's goroutine while holding a worker slot; many Funcs of
// different hosts run at the same time. Use it for the operations the
// runner has no action for (scp, rsync, SFTP, tunnels): its error is the
// action's error. A fn that reports a master failure (an error matching
// [openssh.ErrMasterFailed]) is run again after a reconnection, like any
// action, when reconnections are allowed.
func Func(fn func(ctx context.Context, label string, m *openssh.Master) error) Action {
	return Action{kind: kFunc, fn: fn, reconnections: -1}
}

// Local calls fn for the host without connecting to it (Net::OpenSSH::Parallel's
// parsub with no_ssh). It holds a worker slot while it runs.
func Local(fn func(ctx context.Context, label string) error) Action {
	return Action{kind: kLocal, local: fn, reconnections: -1}
}

// Put copies the local file to the remote path. Both paths may hold
// "%LABEL%" (see [Command]). The remote path is relative to the remote
// user's home unless absolute; the remote file is created or truncated, with
// the remote umask's mode.
//
// For now the copy streams the file into a remote "cat" (sh -c 'cat >
// "$1"') through a [openssh.Cmd]; it will move to scp when the library has
// it. A remote POSIX shell is needed.
func Put(local, remote string) Action {
	return Action{kind: kPut, args: []string{local, remote}, reconnections: -1}
}

// Get copies the remote file to the local path, creating the local
// directories it needs. Both paths may hold "%LABEL%" (see [Command]), which
// keeps the files of different hosts apart, for example
// Get("/etc/hostname", "out/%LABEL%/hostname"). A partial local file is
// removed when the copy fails.
//
// For now the copy reads a remote "cat" through a [openssh.Cmd]; it will
// move to scp when the library has it.
func Get(remote, local string) Action {
	return Action{kind: kGet, args: []string{remote, local}, reconnections: -1}
}

// Join is a barrier: the hosts it is pushed to wait until every host
// matched by selector has finished all the actions queued for it before
// this Join was pushed. When one of those hosts stopped early by [Abort],
// [AbortAll] or a cancelled context, the waiting hosts fail the Join with
// [ErrJoinFailed] (then their policy applies; Retry counts as Abort). A host
// stopped by [Done] or one that jumped past its part with [Goto] counts as
// finished. A selector that matches no host makes the Join a no-op.
func Join(selector string) Action {
	return Action{kind: kJoin, tag: selector, reconnections: -1}
}

// Here marks a place in the queue that [Goto] and [Action.OrGoto] jump to.
// "END" is reserved: it is the end of every queue.
func Here(tag string) Action {
	return Action{kind: kHere, tag: tag, reconnections: -1}
}

// Goto jumps forward to the next [Here] with the same tag in the host's
// queue, or to its end for "END". Jumps go forward only: [Runner.Run]
// refuses a queue where the tag does not follow the Goto. Joins jumped over
// count as finished for the hosts waiting on them.
func Goto(tag string) Action {
	return Action{kind: kGoto, tag: tag, reconnections: -1}
}

// Stop ends the host's queue here, successfully: Goto("END").
func Stop() Action { return Goto("END") }

// OnError returns a copy of a with the error policy p for this action.
func (a Action) OnError(p Policy) Action { a.onError = p; return a }

// OrGoto returns a copy of a that, when the command (or the Put or Get)
// exits with a non-zero status other than 255, jumps to the [Here] tag
// instead of failing. Errors of ssh and of the master still fail.
func (a Action) OrGoto(tag string) Action { a.orGoto = tag; return a }

// Reconnections returns a copy of a allowed n reconnections when the
// master fails (to connect, or while the action runs), instead of the
// host's or runner's number.
func (a Action) Reconnections(n int) Action { a.reconnections = n; return a }

// Timeout returns a copy of a that is cancelled after d; the error matches
// [context.DeadlineExceeded] (and [openssh.ErrTimeout] for commands). The
// time spent connecting is not counted.
func (a Action) Timeout(d time.Duration) Action { a.timeout = d; return a }

// Input returns a copy of a command whose standard input is data (the same
// bytes for every host).
func (a Action) Input(data []byte) Action { a.input = data; return a }

// Setup returns a copy of a command that calls fn on its [openssh.Cmd] just
// before it starts, to set fields the runner has no option for (Dir, Env,
// IdleTimeout, Tty...). fn must not change the streams the runner sets.
func (a Action) Setup(fn func(c *openssh.Cmd)) Action { a.setup = fn; return a }

// String returns a short description: the kind and its arguments.
func (a Action) String() string {
	s := kindNames[a.kind]
	switch a.kind {
	case kCommand, kPut, kGet:
		for _, x := range a.args {
			s += " " + quote(x)
		}
	case kJoin, kHere, kGoto:
		s += " " + a.tag
	}
	return s
}

// needsMaster reports whether the action runs through the host's master.
func (a *Action) needsMaster() bool {
	switch a.kind {
	case kCommand, kFunc, kPut, kGet:
		return true
	}
	return false
}

// stdinFor returns the command's input reader, if any.
func (a *Action) stdinFor() io.Reader {
	if a.input == nil {
		return nil
	}
	return bytesReader(a.input)
}

package parallel

import (
	"context"
	"io"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/pkg/sftp"
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
	kScpPut
	kScpGet
	kRsyncPut
	kRsyncGet
	kSFTP
	kJoin
	kHere
	kGoto
	kNotify // internal: the marker a Join leaves in the queues it waits on
)

var kindNames = map[actionKind]string{
	kCommand: "command", kFunc: "func", kLocal: "local",
	kScpPut: "scp put", kScpGet: "scp get", kRsyncPut: "rsync put", kRsyncGet: "rsync get", kSFTP: "sftp",
	kJoin: "join", kHere: "here", kGoto: "goto", kNotify: "notify",
}

// Action is one step in the queue of a host. Build it with [Command],
// [Func], [Local], [Put], [Get], [ScpPut], [ScpGet], [RsyncPut], [RsyncGet],
// [SFTP], [Join], [Here], [Goto] or [Stop], adjust it
// with its option methods (each returns a modified copy), and queue it with
// [Runner.Push] or [Runner.All].
//
// Every host runs its own queue in order, one action at a time; hosts run
// at the same time, within the Runner's limits.
type Action struct {
	kind  actionKind
	args  []string // command args; transfers: the sources, then the destination
	fn    func(ctx context.Context, label string, m *openssh.Master) error
	local func(ctx context.Context, label string) error
	sftp  func(ctx context.Context, label string, c *sftp.Client) error

	scpOpts   *openssh.ScpOpts
	rsyncOpts *openssh.RsyncOpts
	sftpOpts  []sftp.ClientOption
	oneFile   bool   // Get: the destination is a file, removed if the copy fails
	tag       string // here, goto; join: selector
	input     []byte

	onError       Policy
	orGoto        string
	reconnections int // -1: inherit
	timeout       time.Duration
	setup         func(c *openssh.Cmd)
	progress      func(label string, done, total int64)

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
// runner has no action for (tunnels, forwards, sshfs...): its error is the
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

// Put copies the local file to the remote path with scp through the host's
// master: ScpPut([]string{local}, remote, nil). Both paths may hold
// "%LABEL%" (see [Command]). The remote path is relative to the remote
// user's home unless absolute; an existing remote directory receives the
// file under its base name.
func Put(local, remote string) Action {
	return ScpPut([]string{local}, remote, nil)
}

// Get copies the remote file to the local path with scp through the host's
// master, creating the local directories it needs. Both paths may hold
// "%LABEL%" (see [Command]), which keeps the files of different hosts
// apart, for example Get("/etc/hostname", "out/%LABEL%/hostname"). When the
// copy fails, a local file it created is removed.
func Get(remote, local string) Action {
	a := ScpGet([]string{remote}, local, nil)
	a.oneFile = true
	return a
}

// ScpPut copies local files to the remote path with
// [openssh.Master.ScpPut] (scp through the host's master) and opts, which
// may be nil. "%LABEL%" in every path becomes the host's label (see
// [Command]).
//
// Unless opts sets them, scp's stdout and stderr are handled as a command's
// (streamed with the label as prefix, or kept in the [Result]). A failed
// scp is an [*openssh.ExitError] and sets [Result.ExitCode]; OrGoto
// applies to it.
func ScpPut(local []string, remote string, opts *openssh.ScpOpts) Action {
	return transfer(kScpPut, local, remote, opts, nil)
}

// ScpGet copies remote files to the local path with
// [openssh.Master.ScpGet] and opts, which may be nil. Paths and output are
// as for [ScpPut]. The local parent directories are created first, and the
// local path itself when it ends with a slash or receives several files
// (several sources, or a glob), so that ScpGet(srcs, "out/%LABEL%/", nil)
// gives each host a directory of its own.
func ScpGet(remote []string, local string, opts *openssh.ScpOpts) Action {
	return transfer(kScpGet, remote, local, opts, nil)
}

// RsyncPut copies local files to the remote path with
// [openssh.Master.RsyncPut] (rsync through the host's master) and opts,
// which may be nil. Paths and output are as for [ScpPut]; a failed rsync
// is an [*openssh.ExitError] whose Msg says what rsync's exit code means.
func RsyncPut(local []string, remote string, opts *openssh.RsyncOpts) Action {
	return transfer(kRsyncPut, local, remote, nil, opts)
}

// RsyncGet copies remote files to the local path with
// [openssh.Master.RsyncGet] and opts, which may be nil. Paths, output and
// local directories are as for [ScpGet]; errors as for [RsyncPut].
func RsyncGet(remote []string, local string, opts *openssh.RsyncOpts) Action {
	return transfer(kRsyncGet, remote, local, nil, opts)
}

func transfer(k actionKind, srcs []string, dst string, so *openssh.ScpOpts, ro *openssh.RsyncOpts) Action {
	args := append(append([]string(nil), srcs...), dst)
	return Action{kind: k, args: args, scpOpts: so, rsyncOpts: ro, reconnections: -1}
}

// SFTP opens an SFTP session on the host's master with
// [openssh.Master.SFTP] and opts, calls fn with the client, and closes the
// session when fn returns; fn's error is the action's error, as are the
// errors of opening the session (matching [openssh.ErrSFTPFailed], or
// [openssh.ErrMasterFailed] when the master is gone, which reconnects when
// allowed). When the action's context ends (its Timeout, or the Run's
// context), the session is closed under fn, whose calls then fail. The
// paths fn uses are its own: expand the label with [ExpandLabel].
func SFTP(fn func(ctx context.Context, label string, c *sftp.Client) error, opts ...sftp.ClientOption) Action {
	return Action{kind: kSFTP, sftp: fn, sftpOpts: opts, reconnections: -1}
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

// OrGoto returns a copy of a that, when the command (or the scp or rsync of
// a transfer) exits with a non-zero status other than 255, jumps to the
// [Here] tag instead of failing. Errors of ssh and of the master still
// fail.
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

// Progress returns a copy of an scp transfer ([Put], [Get], [ScpPut],
// [ScpGet]) that reports how far it is to fn: the host's label, the bytes
// copied and the total (negative while unknown), as
// [openssh.ScpOpts].Progress reports them, a few times a second and once at
// the end. fn is called from the goroutines of many hosts at once and must
// return quickly. A Progress set in the action's ScpOpts wins.
func (a Action) Progress(fn func(label string, done, total int64)) Action {
	a.progress = fn
	return a
}

// String returns a short description: the kind and its arguments.
func (a Action) String() string {
	s := kindNames[a.kind]
	switch a.kind {
	case kCommand, kScpPut, kScpGet, kRsyncPut, kRsyncGet:
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
	case kCommand, kFunc, kScpPut, kScpGet, kRsyncPut, kRsyncGet, kSFTP:
		return true
	}
	return false
}

// isTransfer reports whether the action runs scp or rsync.
func (a *Action) isTransfer() bool {
	switch a.kind {
	case kScpPut, kScpGet, kRsyncPut, kRsyncGet:
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

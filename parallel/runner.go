// Package parallel runs actions on many hosts at once, each through its own
// [openssh.Master]: a Go take on Perl's Net::OpenSSH::Parallel.
//
// Add hosts to a [Runner] under labels, queue actions for the hosts a
// selector matches, then call [Runner.Run]:
//
//	var r parallel.Runner
//	r.Workers = 16
//	r.AddHost("web1", "deploy@web1.example.com", nil)
//	r.AddHost("web2", "deploy@web2.example.com", nil)
//	r.AddHost("db1", "db1.example.com", nil)
//	r.Push("web*", parallel.Put("app.tar", "/tmp/app.tar")) // scp
//	r.Push("web*", parallel.Command("tar", "-C", "/srv", "-xf", "/tmp/app.tar"))
//	r.All(parallel.Join("web*"))               // everyone waits for the web hosts
//	r.Push("db1", parallel.Command("echo %LABEL% saw the web hosts done"))
//	results, err := r.Run(ctx)
//
// Actions run commands ([Command]), copy files with scp, rsync or SFTP
// ([Put], [Get], [ScpPut], [RsyncGet], [SFTP]...), call Go code with the
// host's master ([Func]) or order the hosts ([Join], [Here], [Goto]).
//
// Every host works through its own queue in order, one action at a time,
// connecting when its first action needs the master; different hosts run
// at the same time within two limits: Workers (actions running at once,
// connecting included) and Connections (masters open at once; idle masters
// are closed to make room). A failed action is handled by its error
// [Policy]; a master that fails is reconnected when Reconnections allow.
//
// Selectors are comma-separated patterns matched against whole labels,
// where * matches any run of characters: "web*,db1", "*-eu-*".
package parallel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goopenssh/openssh"
)

// Errors a host's [Result.Err] may wrap besides those of the actions.
var (
	// ErrJoinFailed: a host this host joined on stopped early.
	ErrJoinFailed = errors.New("parallel: join failed: a host joined on stopped early")
	// ErrAborted: another host failed with the AbortAll policy.
	ErrAborted = errors.New("parallel: aborted because another host failed")
	// ErrHostsFailed: [Runner.Run] had hosts fail; the error is a
	// [*RunError].
	ErrHostsFailed = errors.New("parallel: hosts failed")
)

// DefaultWorkers is the Workers limit when Runner.Workers and
// Runner.Connections are zero.
const DefaultWorkers = 32

// Runner runs queues of actions on many hosts. The zero value is ready to
// use; set its fields before the first [Runner.AddHost] and do not change
// them during [Runner.Run]. Methods are safe for concurrent use, but hosts
// and actions added during a Run wait for the next Run.
type Runner struct {
	// Workers caps the number of actions running at once, connecting to a
	// host included. Zero means Connections when that is set, else
	// [DefaultWorkers].
	Workers int
	// Connections caps the number of masters open at once; to connect a
	// host when the cap is reached, the runner closes the master of an
	// idle host (one waiting for a worker or a join) used least recently,
	// and that host reconnects when its turn comes. It must be zero (no
	// cap) or at least Workers; twice Workers avoids most reconnections.
	Connections int
	// Reconnections is how many times a host's master may be reconnected
	// for one action when it fails, to connect or while the action runs
	// (Net::OpenSSH::Parallel's reconnections). Each reconnection waits
	// the retry delay first (see RetryDelay). Zero means none.
	Reconnections int
	// OnError is the default error policy; zero means [Abort].
	OnError Policy
	// Retries bounds the [Retry] policy: how many times a failed action is
	// run again. Zero means 3.
	Retries int
	// RetryDelay is the wait before the first retry or reconnection of an
	// action; it doubles for each next one, up to 5 s. Zero means 250 ms.
	RetryDelay time.Duration

	// Options are the master options of hosts added with nil options.
	Options *openssh.Options

	// Stdout and Stderr, when set, receive the output of commands as it
	// comes, one line at a time, each prefixed with "label: " (a final
	// line without a newline gets one). When nil, the output is kept in
	// [Result.Stdout] and [Result.Stderr].
	Stdout io.Writer
	Stderr io.Writer

	// KeepMasters keeps masters open when Run returns (except after a
	// cancelled context), for the next Run to use; call [Runner.Close] at
	// the end. By default each host's master is closed as soon as its
	// queue is finished.
	KeepMasters bool

	// Pool, when set, is where masters come from ([openssh.Pool.Get] of
	// each host's target, with the pool's options: Options and the hosts'
	// own options are not used). The runner never closes them: a host
	// done with its queue, or Close, lets its master go back to the pool,
	// and a host whose master failed gets the pool's replacement.
	// Connections does not apply; the pool's MaxPerHost and IdleTimeout
	// do. Several Runners may share one Pool.
	Pool *openssh.Pool

	// OnResult, when set, is called with each host's result as soon as the
	// host has finished its queue (calls are serialized). It must not call
	// the Runner's methods.
	OnResult func(*Result)

	mu      sync.Mutex
	hosts   []*host
	byLabel map[string]*host
	running bool

	// connection and worker bookkeeping
	cmu       sync.Mutex
	ccond     *sync.Cond
	open      int
	active    int
	connLimit int
	runHosts  []*host // the hosts of the current Run
	slots     chan struct{}
	stats     Stats
	abortAll  atomic.Bool
	outMu     sync.Mutex
	cbMu      sync.Mutex
}

// Host describes a host for [Runner.Add].
type Host struct {
	// Label names the host in selectors, output and results. It must be
	// non-empty, unique, must not be "." or "..", and must not hold any of
	// , * ! ( ) < > / { } or blanks.
	Label string
	// Target is the ssh target, "[user[:password]@]host[:port]"; empty
	// means the label.
	Target string
	// Options are the master's options; nil means Runner.Options.
	// BatchMode is always turned on: the runner cannot answer prompts
	// (password logins through Options.Password still work).
	Options *openssh.Options
	// OnError is the host's error policy; [Inherit] means Runner.OnError.
	OnError Policy
	// Reconnections overrides Runner.Reconnections for this host when
	// positive; a negative value means none.
	Reconnections int
}

type host struct {
	label, target string
	opts          openssh.Options
	onError       Policy
	reconn        int
	pending       []Action // queued for the next Run

	// during a Run
	queue []Action
	pc    int
	res   *Result

	// under Runner.cmu
	m       *openssh.Master
	busy    bool
	lastUse time.Time
}

// Result is what happened on one host during a [Runner.Run].
type Result struct {
	// Label and Target identify the host.
	Label  string
	Target string
	// Err is the error that stopped the host early, an [*ActionError]; nil
	// when the host went through its whole queue (maybe with ignored
	// errors).
	Err error
	// Ignored are the errors of the actions that failed under the
	// [Ignore] policy, each an [*ActionError].
	Ignored []error
	// ExitCode is the exit status of the last command, or scp or rsync of a
	// transfer, that ran: 0 on success, the remote command's (or the local
	// scp's or rsync's) status on a non-zero exit, -1 when it did not run
	// to an exit status (or none ran).
	ExitCode int
	// Stdout and Stderr are the output of the commands and transfers, when
	// the Runner has no writer for the stream.
	Stdout []byte
	Stderr []byte
	// Actions counts the actions run (attempts included); Connects the
	// masters started; Reconnects the reconnections after a master
	// failure; Retries the runs again under the [Retry] policy.
	Actions    int
	Connects   int
	Reconnects int
	Retries    int
	// Connect is the time spent connecting (closing an idle host's master
	// to make room included), Run the time spent running actions,
	// Disconnect the time spent closing the host's own master (at the end,
	// or after it failed); Start and End bound the host's whole run, whose
	// rest is waiting (for a worker, a join, a retry).
	Connect    time.Duration
	Run        time.Duration
	Disconnect time.Duration
	Start      time.Time
	End        time.Time
}

// OK reports whether the host went through its whole queue.
func (r *Result) OK() bool { return r.Err == nil }

// Results are the results of a Run, in the order the hosts were added.
type Results []*Result

// Get returns the result of the host labelled label, or nil.
func (rs Results) Get(label string) *Result {
	for _, r := range rs {
		if r.Label == label {
			return r
		}
	}
	return nil
}

// Failed returns the results with an error.
func (rs Results) Failed() Results {
	var f Results
	for _, r := range rs {
		if r.Err != nil {
			f = append(f, r)
		}
	}
	return f
}

// ActionError is the failure of one action on one host.
type ActionError struct {
	Label  string // the host
	Action string // the action, as [Action.String] describes it
	Err    error  // the cause
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Label, e.Action, e.Err)
}

// Unwrap returns the cause.
func (e *ActionError) Unwrap() error { return e.Err }

// RunError is returned by [Runner.Run] when hosts failed or the context
// was cancelled. It matches [ErrHostsFailed] when hosts failed and wraps
// the context's error when it was cancelled.
type RunError struct {
	// Failed are the labels of the hosts that failed, in the order they
	// were added.
	Failed []string
	// Total is the number of hosts in the run.
	Total int
	// Ctx is the context's error when it ended the run, else nil.
	Ctx error
}

func (e *RunError) Error() string {
	s := fmt.Sprintf("parallel: %d of %d hosts failed", len(e.Failed), e.Total)
	if len(e.Failed) > 0 {
		l := e.Failed
		more := ""
		if len(l) > 8 {
			l, more = l[:8], ", ..."
		}
		s += " (" + strings.Join(l, ", ") + more + ")"
	}
	if e.Ctx != nil {
		s += ": " + e.Ctx.Error()
	}
	return s
}

// Unwrap returns the context's error, if any.
func (e *RunError) Unwrap() error { return e.Ctx }

// Is reports whether target is [ErrHostsFailed] and hosts failed.
func (e *RunError) Is(target error) bool { return target == ErrHostsFailed && len(e.Failed) > 0 }

// Stats are counters of the last (or current) Run.
type Stats struct {
	// MaxActive is the largest number of actions that ran at once
	// (connecting included); it never exceeds Workers.
	MaxActive int
	// MaxOpen is the largest number of masters open (or connecting) at
	// once; it never exceeds Connections when that is set.
	MaxOpen int
}

// Stats returns the counters of the last Run.
func (r *Runner) Stats() Stats {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	return r.stats
}

// AddHost adds a host: a shorthand for [Runner.Add] with the default
// policy and reconnections.
func (r *Runner) AddHost(label, target string, opts *openssh.Options) error {
	return r.Add(Host{Label: label, Target: target, Options: opts})
}

// Add adds a host. It refuses, with an [*openssh.ArgError], a bad or
// duplicate label and a target [openssh.ParseTarget] refuses.
func (r *Runner) Add(h Host) error {
	if err := checkLabel(h.Label); err != nil {
		return err
	}
	if h.Target == "" {
		h.Target = h.Label
	}
	if _, err := openssh.ParseTarget(h.Target); err != nil {
		return err
	}
	if h.OnError < Inherit || h.OnError > Retry {
		return &openssh.ArgError{Arg: "Host.OnError", Value: h.OnError.String(), Reason: "unknown policy"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byLabel[h.Label]; dup {
		return &openssh.ArgError{Arg: "label", Value: quote(h.Label), Reason: "already added"}
	}
	o := h.Options
	if o == nil {
		o = r.Options
	}
	nh := &host{label: h.Label, target: h.Target, onError: h.OnError, reconn: h.Reconnections}
	if o != nil {
		nh.opts = *o
	}
	nh.opts.BatchMode = true
	if r.byLabel == nil {
		r.byLabel = map[string]*host{}
	}
	r.byLabel[h.Label] = nh
	r.hosts = append(r.hosts, nh)
	return nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return &openssh.ArgError{Arg: "label", Reason: "empty"}
	case l == "." || l == "..":
		return &openssh.ArgError{Arg: "label", Value: quote(l), Reason: "not a usable name"}
	case strings.ContainsAny(l, badLabelChars) || strings.ContainsRune(l, 0):
		return &openssh.ArgError{Arg: "label", Value: quote(l), Reason: "must not hold , * ! ( ) < > / { } or blanks"}
	}
	return nil
}

func errSelector(sel, why string) error {
	return &openssh.ArgError{Arg: "selector", Value: quote(sel), Reason: why}
}

// Labels returns the labels of the hosts the selector matches, in the order
// they were added.
func (r *Runner) Labels(selector string) ([]string, error) {
	re, err := compileSelector(selector)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, h := range r.hosts {
		if re.MatchString(h.label) {
			out = append(out, h.label)
		}
	}
	return out, nil
}

// All queues a for every host: Push("*", a).
func (r *Runner) All(a Action) ([]string, error) { return r.Push("*", a) }

// Push queues a for the hosts the selector matches and returns their
// labels (none is not an error). A bad selector or action is refused with an
// [*openssh.ArgError] and nothing is queued.
func (r *Runner) Push(selector string, a Action) ([]string, error) {
	re, err := compileSelector(selector)
	if err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	var dep interface{ MatchString(string) bool }
	if a.kind == kJoin {
		if dep, err = compileSelector(a.tag); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var matched []*host
	var labels []string
	for _, h := range r.hosts {
		if re.MatchString(h.label) {
			matched = append(matched, h)
			labels = append(labels, h.label)
		}
	}
	if a.kind == kJoin {
		var deps []*host
		for _, h := range r.hosts {
			if dep.MatchString(h.label) {
				deps = append(deps, h)
			}
		}
		if len(deps) == 0 || len(matched) == 0 {
			return labels, nil
		}
		b := newBarrier(len(deps))
		for _, h := range deps {
			h.pending = append(h.pending, Action{kind: kNotify, bar: b, reconnections: -1})
		}
		a.bar = b
	}
	for _, h := range matched {
		h.pending = append(h.pending, a)
	}
	return labels, nil
}

// check validates an action before it is queued.
func (a *Action) check() error {
	bad := func(why string) error {
		return &openssh.ArgError{Arg: "action", Value: quote(a.String()), Reason: why}
	}
	switch a.kind {
	case kCommand:
		if len(a.args) == 0 {
			return bad("a command needs arguments")
		}
	case kFunc:
		if a.fn == nil {
			return bad("nil function")
		}
	case kLocal:
		if a.local == nil {
			return bad("nil function")
		}
	case kScpPut, kScpGet, kRsyncPut, kRsyncGet:
		if len(a.args) < 2 {
			return bad("no source")
		}
		for _, p := range a.args {
			if p == "" {
				return bad("empty path")
			}
		}
	case kSFTP:
		if a.sftp == nil {
			return bad("nil function")
		}
	case kJoin, kHere, kGoto:
		if a.tag == "" {
			return bad("empty tag or selector")
		}
		if a.kind == kHere && a.tag == "END" {
			return bad(`"END" is reserved`)
		}
		if a.onError != Inherit || a.orGoto != "" || a.reconnections >= 0 || a.timeout != 0 || a.input != nil || a.setup != nil {
			return bad("join, here and goto take no options")
		}
	default:
		return bad("unknown action (use the constructors)")
	}
	if a.onError < Inherit || a.onError > Retry {
		return bad("unknown policy")
	}
	if a.timeout < 0 {
		return bad("negative timeout")
	}
	if (a.input != nil || a.setup != nil) && a.kind != kCommand {
		return bad("Input and Setup are for commands")
	}
	if a.orGoto != "" && a.kind != kCommand && !a.isTransfer() {
		return bad("OrGoto is for commands and scp or rsync transfers")
	}
	return nil
}

// Close closes every master the Runner keeps open (see KeepMasters),
// Workers of them at a time, and returns when all are closed. It must not
// be called during a Run.
func (r *Runner) Close() error {
	r.mu.Lock()
	hosts := slices.Clone(r.hosts)
	r.mu.Unlock()
	r.initConn()
	n := r.Workers
	if n <= 0 {
		n = r.Connections
	}
	if n <= 0 {
		n = DefaultWorkers
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, h := range hosts {
		r.cmu.Lock()
		open := h.m != nil
		r.cmu.Unlock()
		if !open {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.dropMaster(h)
			<-sem
		}()
	}
	wg.Wait()
	return nil
}

func (r *Runner) initConn() {
	r.cmu.Lock()
	if r.ccond == nil {
		r.ccond = sync.NewCond(&r.cmu)
	}
	r.cmu.Unlock()
}

// Run runs the queued actions on every host and returns a result per host,
// in the order they were added. The queues are consumed: actions pushed
// later wait for the next Run.
//
// Before anything runs it refuses, with an [*openssh.ArgError], limits that
// contradict each other and a [Goto] or OrGoto whose tag does not follow it
// in a host's queue. Then the error is nil when every host went through its
// queue, or a [*RunError] listing the hosts that failed (see [Result.Err]).
//
// When ctx is cancelled, running commands are killed, connecting stops,
// every host stops with an error wrapping ctx.Err(), the masters are closed,
// and Run returns once nothing is left running; the [*RunError] wraps
// ctx.Err().
func (r *Runner) Run(ctx context.Context) (Results, error) {
	workers, conns := r.Workers, r.Connections
	if workers < 0 || conns < 0 {
		return nil, &openssh.ArgError{Arg: "Runner", Reason: "negative Workers or Connections"}
	}
	if workers == 0 {
		workers = conns
		if workers == 0 {
			workers = DefaultWorkers
		}
	}
	if conns > 0 && workers > conns {
		return nil, &openssh.ArgError{Arg: "Runner.Workers", Value: itoa(workers), Reason: "more workers than Connections (" + itoa(conns) + ")"}
	}
	if r.OnError < Inherit || r.OnError > Retry {
		return nil, &openssh.ArgError{Arg: "Runner.OnError", Value: r.OnError.String(), Reason: "unknown policy"}
	}
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return nil, &openssh.ArgError{Arg: "Runner", Reason: "Run called during a Run"}
	}
	for _, h := range r.hosts {
		if err := checkJumps(h.label, h.pending); err != nil {
			r.mu.Unlock()
			return nil, err
		}
	}
	r.running = true
	hosts := slices.Clone(r.hosts)
	for _, h := range hosts {
		h.queue, h.pending, h.pc = h.pending, nil, 0
		h.res = &Result{Label: h.label, Target: h.target, ExitCode: -1}
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()

	r.initConn()
	r.cmu.Lock()
	r.connLimit = conns
	r.runHosts = hosts
	r.slots = make(chan struct{}, workers)
	r.stats = Stats{}
	r.active = 0
	r.cmu.Unlock()
	r.abortAll.Store(false)

	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runHost(ctx, h)
		}()
	}
	wg.Wait()

	res := make(Results, len(hosts))
	var failed []string
	for i, h := range hosts {
		res[i] = h.res
		h.queue, h.res = nil, nil
		if res[i].Err != nil {
			failed = append(failed, h.label)
		}
	}
	if len(failed) > 0 || ctx.Err() != nil {
		return res, &RunError{Failed: failed, Total: len(hosts), Ctx: ctx.Err()}
	}
	return res, nil
}

// checkJumps verifies that every Goto and OrGoto of a queue has its Here
// after it.
func checkJumps(label string, q []Action) error {
	for i, a := range q {
		tag := ""
		switch {
		case a.kind == kGoto:
			tag = a.tag
		case a.orGoto != "":
			tag = a.orGoto
		default:
			continue
		}
		if tag == "END" || findHere(q, i+1, tag) >= 0 {
			continue
		}
		return &openssh.ArgError{Arg: "goto", Value: quote(tag), Reason: "no Here(" + quote(tag) + ") after it in the queue of " + label}
	}
	return nil
}

func findHere(q []Action, from int, tag string) int {
	for j := from; j < len(q); j++ {
		if q[j].kind == kHere && q[j].tag == tag {
			return j
		}
	}
	return -1
}

// runHost works through one host's queue.
func (r *Runner) runHost(ctx context.Context, h *host) {
	res := h.res
	res.Start = time.Now()
	defer r.finishHost(ctx, h)
	for h.pc < len(h.queue) {
		a := &h.queue[h.pc]
		if err := ctx.Err(); err != nil {
			r.stop(h, a, err, false)
			return
		}
		if r.abortAll.Load() {
			r.stop(h, a, ErrAborted, false)
			return
		}
		switch a.kind {
		case kHere:
			h.pc++
		case kNotify:
			a.bar.arrive(true)
			h.pc++
		case kGoto:
			r.jump(h, a.tag)
		case kJoin:
			err := a.bar.wait(ctx)
			if err == nil {
				h.pc++
				continue
			}
			if ctx.Err() != nil {
				r.stop(h, a, ctx.Err(), false)
				return
			}
			pol := r.policy(h, a)
			if pol == Retry {
				pol = Abort
			}
			if !r.apply(h, a, err, pol) {
				return
			}
		default:
			err := r.exec(ctx, h, a)
			if err == nil {
				h.pc++
				continue
			}
			if ctx.Err() != nil {
				r.stop(h, a, err, false)
				return
			}
			if a.orGoto != "" && isExitFailure(err) {
				r.jump(h, a.orGoto)
				continue
			}
			pol := r.policy(h, a)
			if pol == Retry {
				pol = Abort
			}
			if !r.apply(h, a, err, pol) {
				return
			}
		}
	}
}

// isExitFailure reports a command that ran and exited non-zero, not 255.
func isExitFailure(err error) bool {
	var ee *openssh.ExitError
	return errors.As(err, &ee) && ee.Code != 255 && ee.Signal == ""
}

func isMasterFailure(err error) bool { return errors.Is(err, openssh.ErrMasterFailed) }

// policy looks the policy up: action, host, runner, Abort.
func (r *Runner) policy(h *host, a *Action) Policy {
	for _, p := range []Policy{a.onError, h.onError, r.OnError} {
		if p != Inherit {
			return p
		}
	}
	return Abort
}

// apply applies a policy to a failed action; it reports whether the host
// goes on.
func (r *Runner) apply(h *host, a *Action, err error, pol Policy) bool {
	switch pol {
	case Ignore:
		h.res.Ignored = append(h.res.Ignored, &ActionError{Label: h.label, Action: a.String(), Err: err})
		h.pc++
		return true
	case Done:
		r.stop(h, a, err, true)
		return false
	case AbortAll:
		r.abortAll.Store(true)
	}
	r.stop(h, a, err, false)
	return false
}

// stop ends the host's queue with err; joins waiting on it are released as
// finished when ok, as failed otherwise.
func (r *Runner) stop(h *host, a *Action, err error, ok bool) {
	h.res.Err = &ActionError{Label: h.label, Action: a.String(), Err: err}
	for ; h.pc < len(h.queue); h.pc++ {
		if q := &h.queue[h.pc]; q.kind == kNotify {
			q.bar.arrive(ok)
		}
	}
}

// jump moves to the action after Here(tag), releasing the joins it skips.
func (r *Runner) jump(h *host, tag string) {
	to := len(h.queue)
	if tag != "END" {
		if j := findHere(h.queue, h.pc+1, tag); j >= 0 {
			to = j
		}
	}
	for ; h.pc < to; h.pc++ {
		if q := &h.queue[h.pc]; q.kind == kNotify {
			q.bar.arrive(true)
		}
	}
}

// finishHost closes the master (unless kept) and reports the result.
func (r *Runner) finishHost(ctx context.Context, h *host) {
	if !r.KeepMasters || ctx.Err() != nil {
		h.res.Disconnect += r.dropMaster(h)
	}
	h.res.End = time.Now()
	if r.OnResult != nil {
		r.cbMu.Lock()
		r.OnResult(h.res)
		r.cbMu.Unlock()
	}
}

// exec runs an action with its reconnections and retries.
func (r *Runner) exec(ctx context.Context, h *host, a *Action) error {
	limit := r.Reconnections
	switch {
	case a.reconnections >= 0:
		limit = a.reconnections
	case h.reconn > 0:
		limit = h.reconn
	case h.reconn < 0:
		limit = 0
	}
	retries := r.Retries
	if retries == 0 {
		retries = 3
	}
	delay := r.RetryDelay
	if delay <= 0 {
		delay = 250 * time.Millisecond
	}
	nReconn, nRetry := 0, 0
	for {
		err := r.attempt(ctx, h, a)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if a.orGoto != "" && isExitFailure(err) {
			return err
		}
		switch {
		case a.needsMaster() && isMasterFailure(err) && nReconn < limit:
			nReconn++
			h.res.Reconnects++
		case r.policy(h, a) == Retry && nRetry < retries:
			nRetry++
			h.res.Retries++
		default:
			return err
		}
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt runs an action once: it takes a worker slot, connects when
// needed, and runs.
func (r *Runner) attempt(ctx context.Context, h *host, a *Action) error {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.cmu.Lock()
	h.busy = true
	r.active++
	r.stats.MaxActive = max(r.stats.MaxActive, r.active)
	r.cmu.Unlock()
	defer func() {
		r.cmu.Lock()
		h.busy = false
		h.lastUse = time.Now()
		r.active--
		r.ccond.Broadcast()
		r.cmu.Unlock()
		<-r.slots
	}()
	var m *openssh.Master
	if a.needsMaster() {
		var err error
		if m, err = r.ensureMaster(ctx, h); err != nil {
			return err
		}
	}
	actx := ctx
	if a.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	t0 := time.Now()
	err := r.do(actx, h, m, a)
	h.res.Run += time.Since(t0)
	h.res.Actions++
	if err != nil && m != nil && isMasterFailure(err) {
		h.res.Disconnect += r.dropMaster(h)
	}
	return err
}

// ensureMaster returns the host's master, connecting it first, within the
// Connections limit. The host is busy (it holds a worker slot).
func (r *Runner) ensureMaster(ctx context.Context, h *host) (*openssh.Master, error) {
	r.cmu.Lock()
	if h.m != nil {
		m := h.m
		r.cmu.Unlock()
		return m, nil
	}
	if r.Pool != nil {
		r.cmu.Unlock()
		t0 := time.Now()
		m, err := r.Pool.Get(ctx, h.target)
		h.res.Connect += time.Since(t0)
		h.res.Connects++
		if err != nil {
			return nil, err
		}
		r.cmu.Lock()
		h.m = m
		r.cmu.Unlock()
		return m, nil
	}
	var victim *openssh.Master
	for r.connLimit > 0 && r.open >= r.connLimit {
		var v *host
		for _, o := range r.runHosts {
			if o.m != nil && !o.busy && (v == nil || o.lastUse.Before(v.lastUse)) {
				v = o
			}
		}
		if v != nil {
			victim, v.m = v.m, nil
			break
		}
		// Every open master is busy or being closed: wait for a change.
		r.ccond.Wait()
	}
	if victim == nil {
		r.open++
		r.stats.MaxOpen = max(r.stats.MaxOpen, r.open)
	}
	r.cmu.Unlock()
	t0 := time.Now()
	if victim != nil {
		victim.Close()
	}
	m, err := openssh.New(ctx, h.target, &h.opts)
	h.res.Connect += time.Since(t0)
	h.res.Connects++
	r.cmu.Lock()
	defer r.cmu.Unlock()
	if err != nil {
		r.open--
		r.ccond.Broadcast()
		return nil, err
	}
	h.m = m
	return m, nil
}

// dropMaster closes the host's master, if any, and returns the time it
// took.
func (r *Runner) dropMaster(h *host) time.Duration {
	r.cmu.Lock()
	m := h.m
	h.m = nil
	r.cmu.Unlock()
	if m == nil || r.Pool != nil {
		return 0 // a pooled master stays with the pool
	}
	t0 := time.Now()
	m.Close()
	d := time.Since(t0)
	r.cmu.Lock()
	r.open--
	r.ccond.Broadcast()
	r.cmu.Unlock()
	return d
}

// do runs one action.
func (r *Runner) do(ctx context.Context, h *host, m *openssh.Master, a *Action) error {
	switch a.kind {
	case kFunc:
		return a.fn(ctx, h.label, m)
	case kLocal:
		return a.local(ctx, h.label)
	case kSFTP:
		return r.doSFTP(ctx, h, m, a)
	}
	stdout, stderr, finish := r.streams(h)
	var err error
	if a.kind == kCommand {
		c := m.Command(ctx, expandAll(a.args, h.label)...)
		c.Stdin = a.stdinFor()
		c.Stdout, c.Stderr = stdout, stderr
		if a.setup != nil {
			a.setup(c)
		}
		err = c.Run()
	} else {
		err = r.doTransfer(ctx, h, m, a, stdout, stderr)
	}
	finish()
	var ee *openssh.ExitError
	switch {
	case err == nil:
		h.res.ExitCode = 0
	case errors.As(err, &ee):
		h.res.ExitCode = ee.Code
	default:
		h.res.ExitCode = -1
	}
	return err
}

// streams returns the writers an action's output goes to: the Runner's
// writers behind a label prefix, or buffers that finish appends to the
// host's Result.
func (r *Runner) streams(h *host) (stdout, stderr io.Writer, finish func()) {
	var done []func()
	mk := func(w io.Writer, buf *[]byte) io.Writer {
		if w != nil {
			lw := &lineWriter{mu: &r.outMu, w: w, prefix: []byte(h.label + ": ")}
			done = append(done, lw.Flush)
			return lw
		}
		sb := &syncBuffer{}
		done = append(done, func() { *buf = append(*buf, sb.Bytes()...) })
		return sb
	}
	stdout = mk(r.Stdout, &h.res.Stdout)
	stderr = mk(r.Stderr, &h.res.Stderr)
	return stdout, stderr, func() {
		for _, f := range done {
			f()
		}
	}
}

// doTransfer runs an scp or rsync action.
func (r *Runner) doTransfer(ctx context.Context, h *host, m *openssh.Master, a *Action, stdout, stderr io.Writer) error {
	args := expandAll(a.args, h.label)
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	var removeOnError string
	if a.kind == kScpGet || a.kind == kRsyncGet {
		glob := a.scpOpts != nil && a.scpOpts.Glob || a.rsyncOpts != nil && a.rsyncOpts.Glob
		dir := filepath.Dir(dst)
		if len(srcs) > 1 || glob || strings.HasSuffix(dst, "/") {
			dir = dst
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		if a.oneFile {
			if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
				removeOnError = dst
			}
		}
	}
	var err error
	switch a.kind {
	case kScpPut, kScpGet:
		var o openssh.ScpOpts
		if a.scpOpts != nil {
			o = *a.scpOpts
		}
		if o.Stdout == nil {
			o.Stdout = stdout
		}
		if o.Stderr == nil {
			o.Stderr = stderr
		}
		if a.kind == kScpPut {
			err = m.ScpPut(ctx, srcs, dst, &o)
		} else {
			err = m.ScpGet(ctx, srcs, dst, &o)
		}
	case kRsyncPut, kRsyncGet:
		var o openssh.RsyncOpts
		if a.rsyncOpts != nil {
			o = *a.rsyncOpts
		}
		if o.Stdout == nil {
			o.Stdout = stdout
		}
		if o.Stderr == nil {
			o.Stderr = stderr
		}
		if a.kind == kRsyncPut {
			err = m.RsyncPut(ctx, srcs, dst, &o)
		} else {
			err = m.RsyncGet(ctx, srcs, dst, &o)
		}
	}
	if err != nil && removeOnError != "" {
		if st, serr := os.Lstat(removeOnError); serr == nil && st.Mode().IsRegular() {
			os.Remove(removeOnError)
		}
	}
	return err
}

// doSFTP runs an SFTP action: the session is closed when fn returns, or
// under it when ctx ends.
func (r *Runner) doSFTP(ctx context.Context, h *host, m *openssh.Master, a *Action) error {
	c, err := m.SFTP(ctx, a.sftpOpts...)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = a.sftp(ctx, h.label, c)
	stop()
	c.Close()
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// barrier is a Join: it opens when every host it waits on has arrived, or
// as soon as one fails.
type barrier struct {
	mu      sync.Mutex
	pending int
	failed  bool
	closed  bool
	done    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{pending: n, done: make(chan struct{})} }

func (b *barrier) arrive(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending--
	if !ok {
		b.failed = true
	}
	if !b.closed && (b.pending == 0 || !ok) {
		b.closed = true
		close(b.done)
	}
}

func (b *barrier) wait(ctx context.Context) error {
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed {
		return ErrJoinFailed
	}
	return nil
}

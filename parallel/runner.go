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
	"io"
	"slices"
	"strconv"
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
	// LoginTimeout, when positive, bounds the whole connect of a host for
	// one action: every login attempt, the reconnections after failed ones
	// and the waits between them (each attempt is also bounded by the
	// host's Options.Timeout). When it runs out the action fails with a
	// master failure matching [openssh.ErrLoginTimeout]. Zero means that
	// only Options.Timeout bounds each attempt.
	LoginTimeout time.Duration
	// ConnectRate, when positive, bounds the logins started per second
	// (reconnections included), evenly spaced: for bastions and sshd's
	// MaxStartups. Zero means no bound.
	ConnectRate float64
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

	// Output, when set, is called once per host and Run, before the first
	// output of the host's commands and transfers, and returns the
	// writers that receive that output as it comes, unprefixed: per-host
	// files, say, or buffers with a cap. A nil writer leaves its stream to
	// Stdout or Stderr (or the Result). When it returns the same writer
	// for both streams, that writer must be safe for concurrent use.
	Output func(label string) (stdout, stderr io.Writer)

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
	// Connections, LoginTimeout and ConnectRate do not apply; the pool's
	// MaxPerHost and IdleTimeout do. Several Runners may share one Pool.
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
	nextLogin time.Time // ConnectRate: when the next login may start (under cmu)
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

	// the writers of Runner.Output, during a Run
	outSet   bool
	out, err io.Writer

	// the login budget of the current action (Runner.LoginTimeout): its
	// end once the first attempt started, and Result.Connects before it
	loginBy   time.Time
	loginFrom int

	// under Runner.cmu
	m       *openssh.Master
	busy    bool
	lastUse time.Time
}

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
	if a.progress != nil && a.kind != kScpPut && a.kind != kScpGet {
		return bad("Progress is for scp transfers")
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
	if r.ConnectRate < 0 || r.ConnectRate != r.ConnectRate {
		return nil, &openssh.ArgError{Arg: "Runner.ConnectRate", Value: strconv.FormatFloat(r.ConnectRate, 'g', -1, 64), Reason: "negative or NaN"}
	}
	if r.LoginTimeout < 0 {
		return nil, &openssh.ArgError{Arg: "Runner.LoginTimeout", Value: r.LoginTimeout.String(), Reason: "negative"}
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
		h.outSet, h.out, h.err = false, nil, nil
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
		h.out, h.err = nil, nil
		if res[i].Err != nil {
			failed = append(failed, h.label)
		}
	}
	if len(failed) > 0 || ctx.Err() != nil {
		return res, &RunError{Failed: failed, Total: len(hosts), Ctx: ctx.Err()}
	}
	return res, nil
}

package parallel

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/goopenssh/openssh"
)

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

package openssh

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrPoolClosed is returned by [Pool.Get] after [Pool.Close].
var ErrPoolClosed = errors.New("openssh: pool closed")

// PoolOptions configures a [Pool]. The zero value is usable.
type PoolOptions struct {
	// Options are the options of every master [Pool.Get] starts (nil: the
	// defaults). [Pool.GetWith] gives others per call.
	Options *Options
	// New starts one master (Net::OpenSSH's FACTORY). Nil means [New].
	// Get waits for a master it returns to be up (Options.Async).
	New func(ctx context.Context, target string, opts *Options) (*Master, error)
	// MaxPerHost is how many masters one target (and options) may have at
	// once. A second one is started only when every master of the target
	// is saturated: all the session slots of its Options.MaxSessions are
	// taken. Zero means 1.
	MaxPerHost int
	// IdleTimeout closes a master no [Pool.Get] has returned and on which no
	// session has run for that long. Zero means masters stay until
	// [Pool.Close] (or until they die).
	IdleTimeout time.Duration
}

// A Pool hands out masters keyed by target and options (Net::OpenSSH's
// connection cache). [Pool.Get] reuses a live master or starts one;
// concurrent Gets of one target start one master between them. A master
// that has died is replaced on the next Get; idle masters are closed after
// PoolOptions.IdleTimeout; [Pool.Close] closes all of them.
//
// The masters belong to the pool: callers must not Close them. A master
// is never closed by the idle timer while one of its sessions runs, but a
// caller that keeps a Master longer than IdleTimeout between uses should
// call Get again rather than hold on to it. A Pool is safe for concurrent
// use.
type Pool struct {
	opts PoolOptions

	mu      sync.Mutex
	hosts   map[poolKey]*poolHost
	closed  bool
	closing sync.WaitGroup // starts and closes in flight
	stop    chan struct{}  // ends the idle sweeper
	swept   chan struct{}  // closed when the sweeper has returned
}

type poolKey struct {
	target string
	opts   *Options
}

// poolHost is the masters of one key.
type poolHost struct {
	masters []*poolEntry
	start   *poolStart // the start in flight, if any
}

type poolEntry struct {
	m    *Master
	used time.Time // last handed out or seen busy
}

// poolStart is one master being started; waiters share its outcome.
type poolStart struct {
	done chan struct{}
	m    *Master
	err  error
}

// NewPool returns an empty pool.
func NewPool(opts *PoolOptions) *Pool {
	p := &Pool{hosts: make(map[poolKey]*poolHost)}
	if opts != nil {
		p.opts = *opts
	}
	if p.opts.MaxPerHost <= 0 {
		p.opts.MaxPerHost = 1
	}
	if p.opts.New == nil {
		p.opts.New = New
	}
	if d := p.opts.IdleTimeout; d > 0 {
		p.stop, p.swept = make(chan struct{}), make(chan struct{})
		go p.sweep(d)
	}
	return p
}

// Get returns a live master to target, started with PoolOptions.Options
// when the pool has none. ctx bounds the start (or the wait for a start
// another Get made). A failed start returns its error to every Get that
// waited for it; the next Get tries again.
func (p *Pool) Get(ctx context.Context, target string) (*Master, error) {
	return p.GetWith(ctx, target, p.opts.Options)
}

// GetWith is [Pool.Get] with other options. Masters are keyed by target
// and by the opts pointer: pass the same *Options to share masters.
func (p *Pool) GetWith(ctx context.Context, target string, opts *Options) (*Master, error) {
	key := poolKey{target, opts}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		h := p.hosts[key]
		if h == nil {
			h = &poolHost{}
			p.hosts[key] = h
		}
		p.dropDeadLocked(h)
		best := h.leastLoaded()
		if best != nil && !saturated(best.m) {
			best.used = time.Now()
			p.mu.Unlock()
			return best.m, nil
		}
		if s := h.start; s != nil {
			// Someone is starting a master for this key: wait for it
			// rather than log in twice.
			p.mu.Unlock()
			select {
			case <-s.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if s.err != nil {
				return nil, s.err
			}
			continue // take it (or another) under the lock
		}
		if best != nil && len(h.masters) >= p.opts.MaxPerHost {
			best.used = time.Now()
			p.mu.Unlock()
			return best.m, nil // all saturated: its limiter queues us
		}
		s := &poolStart{done: make(chan struct{})}
		h.start = s
		p.closing.Add(1)
		p.mu.Unlock()

		s.m, s.err = p.opts.New(ctx, target, opts)
		if s.err == nil {
			// An async master (Options.Async) must be up before it is
			// shared: the pool takes one still logging in for dead.
			if s.err = s.m.WaitForMaster(ctx); s.err != nil {
				s.m.Close()
				s.m = nil
			}
		}
		p.mu.Lock()
		h.start = nil
		if s.err == nil && p.closed {
			s.err = ErrPoolClosed
			p.closeLater(s.m)
			s.m = nil
		}
		if s.err == nil {
			h.masters = append(h.masters, &poolEntry{m: s.m, used: time.Now()})
		} else if len(h.masters) == 0 && p.hosts[key] == h {
			delete(p.hosts, key) // no entry left behind for a bad target
		}
		close(s.done)
		p.mu.Unlock()
		p.closing.Done()
		if s.err != nil {
			return nil, s.err
		}
		return s.m, nil
	}
}

// saturated reports whether every session slot of m is taken.
func saturated(m *Master) bool {
	return m.sessions != nil && len(m.sessions) >= cap(m.sessions)
}

// leastLoaded returns the master with the fewest sessions running.
func (h *poolHost) leastLoaded() *poolEntry {
	var best *poolEntry
	for _, e := range h.masters {
		if best == nil || len(e.m.sessions) < len(best.m.sessions) {
			best = e
		}
	}
	return best
}

// dropDeadLocked removes the masters of h that have died (their process
// exited, their socket vanished, or a sticky failure) and closes them.
func (p *Pool) dropDeadLocked(h *poolHost) {
	keep := h.masters[:0]
	for _, e := range h.masters {
		if e.m.alive() != nil {
			p.closeLater(e.m)
			continue
		}
		keep = append(keep, e)
	}
	clear(h.masters[len(keep):])
	h.masters = keep
}

// closeLater closes m in the background; Pool.Close waits for it.
func (p *Pool) closeLater(m *Master) {
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		m.Close()
	}()
}

// sweep closes idle masters every d/4 until the pool is closed.
func (p *Pool) sweep(d time.Duration) {
	defer close(p.swept)
	tick := max(d/4, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			for key, h := range p.hosts {
				keep := h.masters[:0]
				for _, e := range h.masters {
					if len(e.m.sessions) > 0 {
						e.used = now
					}
					if now.Sub(e.used) >= d {
						p.closeLater(e.m)
						continue
					}
					keep = append(keep, e)
				}
				clear(h.masters[len(keep):])
				h.masters = keep
				if len(keep) == 0 && h.start == nil {
					delete(p.hosts, key)
				}
			}
			p.mu.Unlock()
		}
	}
}

// Len returns the number of masters the pool holds.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, h := range p.hosts {
		n += len(h.masters)
	}
	return n
}

// Close closes every master of the pool (concurrently) and waits for them,
// and for starts in flight, to end. Later Gets fail with [ErrPoolClosed].
// Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.closing.Wait()
		return nil
	}
	p.closed = true
	for _, h := range p.hosts {
		for _, e := range h.masters {
			p.closeLater(e.m)
		}
	}
	p.hosts = nil
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.swept
	}
	p.closing.Wait()
	return nil
}

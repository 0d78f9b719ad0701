package parallel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/goopenssh/openssh"
)

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
	h.loginBy, h.loginFrom = time.Time{}, h.res.Connects
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
		if !h.loginBy.IsZero() && time.Until(h.loginBy) < delay {
			// No login budget left for the wait and another attempt.
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
	if err := r.waitLoginTurn(ctx); err != nil {
		r.cmu.Lock()
		r.open--
		r.ccond.Broadcast()
		r.cmu.Unlock()
		return nil, err
	}
	cctx := ctx
	if r.LoginTimeout > 0 {
		if h.loginBy.IsZero() {
			// From the start of the login: a wait for ConnectRate
			// does not count.
			h.loginBy = time.Now().Add(r.LoginTimeout)
		}
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadline(ctx, h.loginBy)
		defer cancel()
	}
	m, err := openssh.New(cctx, h.target, &h.opts)
	h.res.Connect += time.Since(t0)
	h.res.Connects++
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		err = r.loginTimeout(h, err)
	}
	r.cmu.Lock()
	defer r.cmu.Unlock()
	if err != nil {
		r.open--
		r.ccond.Broadcast()
		return nil, err
	}
	h.m = m
	h.loginBy = time.Time{}
	return m, nil
}

// waitLoginTurn waits for the next login slot under ConnectRate.
func (r *Runner) waitLoginTurn(ctx context.Context) error {
	if r.ConnectRate <= 0 {
		return nil
	}
	gap := time.Duration(float64(time.Second) / r.ConnectRate)
	r.cmu.Lock()
	now := time.Now()
	at := r.nextLogin
	if at.Before(now) {
		at = now
	}
	r.nextLogin = at.Add(gap)
	r.cmu.Unlock()
	if d := time.Until(at); d > 0 && !sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// loginTimeout is the error of a connect cut by Runner.LoginTimeout: a
// master failure matching [openssh.ErrLoginTimeout].
func (r *Runner) loginTimeout(h *host, err error) error {
	n := h.res.Connects - h.loginFrom
	tries := "1 attempt"
	if n != 1 {
		tries = itoa(n) + " attempts"
	}
	detail := fmt.Sprintf("not connected within the login timeout of %v (%s)", r.LoginTimeout, tries)
	var oe *openssh.Error
	if errors.As(err, &oe) && oe.Detail != "" {
		detail += ": " + oe.Detail
	}
	return &openssh.Error{Code: openssh.CodeMasterFailed, Op: "connect", Host: h.target, Err: openssh.ErrLoginTimeout, Detail: detail}
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

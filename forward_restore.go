package openssh

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ActiveForward is a forward set up with [Master.Forward] (or by
// [Master.Listen]) and not cancelled: its spec and its listening port (see
// Forward's result).
type ActiveForward struct {
	Spec ForwardSpec
	Port int
}

// fwdRegistry records the forwards of a Master, to set them up again after
// Restart.
type fwdRegistry struct {
	mu   sync.Mutex
	list []*fwdEntry
}

type fwdEntry struct {
	spec   ForwardSpec
	port   int
	onPort func(int) // a Listen listener learning its new port; may be nil
}

func (r *fwdRegistry) add(spec ForwardSpec, port int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.list {
		if e.spec == spec {
			e.port = port
			return
		}
	}
	r.list = append(r.list, &fwdEntry{spec: spec, port: port})
}

func (r *fwdRegistry) remove(spec ForwardSpec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range r.list {
		if e.spec == spec {
			r.list = append(r.list[:i], r.list[i+1:]...)
			return
		}
	}
}

// watch calls fn with the port of spec each time Restart sets it up again.
func (r *fwdRegistry) watch(spec ForwardSpec, fn func(int)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.list {
		if e.spec == spec {
			e.onPort = fn
		}
	}
}

func (r *fwdRegistry) snapshot() []fwdEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]fwdEntry, len(r.list))
	for i, e := range r.list {
		out[i] = *e
	}
	return out
}

// Forwards returns the forwards the Master has set up and not cancelled,
// in the order they were made, with their current listening ports.
//
// [Master.Restart] sets up again, on the new master, the forwards made
// with [Master.Forward] and the listeners of [Master.Listen] (a remote
// forward on port 0 gets a new port: see Forwards and the listener's
// Addr). Those that cannot be are dropped and named in Restart's error,
// which matches [ErrForwardFailed] while the new master is up and usable
// (m.Err() is nil). Connections made through the old master are gone. In
// async mode the forwards are set up in the background once the master is
// up, and failures are only logged.
func (m *Master) Forwards() []ActiveForward {
	var out []ActiveForward
	for _, e := range m.fwds.snapshot() {
		out = append(out, ActiveForward{Spec: e.spec, Port: e.port})
	}
	return out
}

// afterRestart waits for a restarted master (unless async) and sets its
// forwards up again.
func (m *Master) afterRestart(ctx context.Context) error {
	if m.opts.Async {
		go func() {
			ctx := context.Background()
			if m.WaitForMaster(ctx) == nil {
				if err := m.restoreForwards(ctx); err != nil {
					m.log.Warn("openssh: forwards lost in restart", "host", m.host, "err", err)
				}
			}
		}()
		return nil
	}
	if err := m.WaitForMaster(ctx); err != nil {
		return err
	}
	return m.restoreForwards(ctx)
}

// restoreForwards sets up again, on a new master process, every forward
// the Master had. Those that fail are dropped from the record and named in
// the error, which matches [ErrForwardFailed]; the others stay.
func (m *Master) restoreForwards(ctx context.Context) error {
	var failed []string
	var errs []error
	for _, e := range m.fwds.snapshot() {
		if e.spec.Kind != RemoteForward && e.spec.Listen.network() == "unix" {
			// The old master left its socket file behind.
			if p, err := filepath.Abs(e.spec.Listen.Path); err == nil && isSocket(p) {
				os.Remove(p)
			}
		}
		port, err := m.be.forward(ctx, e.spec)
		if err != nil {
			m.fwds.remove(e.spec)
			failed = append(failed, e.spec.String())
			errs = append(errs, err)
			continue
		}
		m.fwds.add(e.spec, port)
		if e.onPort != nil {
			e.onPort(port)
		}
		m.log.Debug("openssh: forward restored", "host", m.host, "forward", e.spec.String(), "port", port)
	}
	if len(errs) == 0 {
		return nil
	}
	return &Error{Code: CodeSlaveFailed, Op: "restart", Host: m.host, Err: &restoreError{errs: errs},
		Detail: "the new master is up without " + strings.Join(failed, ", ")}
}

// restoreError is the failures of restoreForwards; it matches what each
// matches (ErrForwardFailed, ...).
type restoreError struct{ errs []error }

func (e *restoreError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = strings.TrimPrefix(err.Error(), "openssh: ")
	}
	return strings.Join(msgs, "; ")
}

func (e *restoreError) Unwrap() []error { return e.errs }

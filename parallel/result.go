package parallel

import (
	"fmt"
	"strings"
	"time"
)

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

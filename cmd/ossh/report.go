package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/parallel"
)

// The error classes of --json and the summary.
const (
	classAuth        = "auth"
	classHostKey     = "host key"
	classConnect     = "connect"
	classTimeout     = "timeout"
	classCommand     = "command"
	classTransfer    = "transfer"
	classInterrupted = "interrupted"
	classNotRun      = "not run"
)

// classify returns the error class of a failed host, and whether the host
// counts as unreachable (it could not be logged in to).
func classify(sub string, x *parallel.Result) (class string, unreachable bool) {
	err := x.Err
	switch {
	case errors.Is(err, errNotRun):
		return classNotRun, false
	case errors.Is(err, context.Canceled):
		return classInterrupted, false
	case errors.Is(err, openssh.ErrAuth):
		return classAuth, true
	case errors.Is(err, openssh.ErrHostKeyUnknown), errors.Is(err, openssh.ErrHostKeyChanged):
		return classHostKey, true
	case errors.Is(err, openssh.ErrLoginTimeout):
		return classTimeout, true
	case errors.Is(err, openssh.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return classTimeout, false
	case errors.Is(err, openssh.ErrMasterFailed):
		// Refused, unresolved, unreachable, no common algorithm, or a
		// master that died: the host is out of reach.
		return classConnect, true
	case sub == "run":
		return classCommand, false
	}
	return classTransfer, false
}

// reporter prints each host's result as it finishes and keeps the counts
// for the summary and the exit status.
type reporter struct {
	c     *config
	con   *console
	total int
	t0    time.Time

	mu          sync.Mutex
	n           int // hosts finished
	failed      int // reached, but a command or copy failed (or timed out)
	unreachable int
	writeErr    error                  // the first output file that could not be written
	outputs     map[string]*hostOutput // the output of the hosts running
}

func newReporter(c *config, con *console, total int) *reporter {
	return &reporter{c: c, con: con, total: total, t0: time.Now(), outputs: map[string]*hostOutput{}}
}

// counts returns the hosts finished and failed so far (unreachable ones
// included).
func (rp *reporter) counts() (done, failed int) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.n, rp.failed + rp.unreachable
}

// onResult is the Runner's OnResult: calls are serialized.
func (rp *reporter) onResult(x *parallel.Result) {
	class, unreachable := "", false
	if x.Err != nil {
		class, unreachable = classify(rp.c.sub, x)
	}
	rp.mu.Lock()
	rp.n++
	n := rp.n
	switch {
	case x.Err == nil:
	case unreachable:
		rp.unreachable++
	default:
		rp.failed++
	}
	rp.mu.Unlock()

	rp.mu.Lock()
	o := rp.outputs[x.Label]
	delete(rp.outputs, x.Label)
	rp.mu.Unlock()
	if o == nil {
		o = &hostOutput{} // no output: the host ran no command
	}
	for _, s := range []*sink{o.stdout, o.stderr} {
		if err := s.close(); err != nil {
			rp.fileError(err)
		}
	}
	switch {
	case rp.c.json:
		b, _ := json.Marshal(newJSONResult(x, class, unreachable, o))
		rp.con.write(rp.con.stdout, append(b, '\n'))
	case rp.c.quiet:
	case rp.c.inline:
		rp.con.write(rp.con.stdout, inlineBlock(n, rp.total, x, o))
	case rp.c.outdir != "" || rp.c.errdir != "":
		rp.con.write(rp.con.stdout, statusLine(n, rp.total, x))
	}
}

// statusLine is pssh's line for a finished host:
// "[3/8] 12:04:05 [SUCCESS] web1" or "[FAILURE] web1: error".
func statusLine(n, total int, x *parallel.Result) []byte {
	st := "SUCCESS"
	if x.Err != nil {
		st = "FAILURE"
	}
	s := fmt.Sprintf("[%d/%d] %s [%s] %s", n, total, x.End.Format("15:04:05"), st, x.Label)
	if x.Err != nil {
		s += ": " + errText(x)
	}
	return []byte(s + "\n")
}

// inlineBlock is a host's status line followed by its whole stdout and, if
// any, its stderr under a "stderr:" line.
func inlineBlock(n, total int, x *parallel.Result, o *hostOutput) []byte {
	b := statusLine(n, total, x)
	stdout, _ := o.stdout.kept()
	stderr, _ := o.stderr.kept()
	b = appendLines(b, stdout)
	if len(stderr) > 0 {
		b = append(b, "stderr:\n"...)
		b = appendLines(b, stderr)
	}
	return b
}

func appendLines(b, out []byte) []byte {
	if len(out) == 0 {
		return b
	}
	b = append(b, out...)
	if out[len(out)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}

// errText is the error of a host without the label and action, which the
// output already shows.
func errText(x *parallel.Result) string {
	var ae *parallel.ActionError
	e := x.Err
	if errors.As(e, &ae) {
		e = ae.Err
	}
	s := strings.TrimPrefix(e.Error(), "openssh: ")
	return strings.ReplaceAll(s, "\n", " ")
}

// jsonResult is one line of --json: a host's result.
type jsonResult struct {
	// Host is the label, Target the host as given (a password replaced
	// by ***).
	Host   string `json:"host"`
	Target string `json:"target"`
	// Status is "ok", "failed" (reached, but the command or copy failed),
	// "unreachable" or "not run" (after a batch beyond --max-fail).
	Status string `json:"status"`
	// ExitCode is the exit status of the command (or scp), null when it
	// did not run to one.
	ExitCode *int `json:"exit_code"`
	// ErrorClass is auth, host key, connect, timeout, command, transfer,
	// interrupted or not run; Error the error's text. Both absent when ok.
	ErrorClass string `json:"error_class,omitempty"`
	Error      string `json:"error,omitempty"`
	// Start and End bound the host's run; ConnectMS and RunMS are the time
	// spent connecting and running.
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	ConnectMS float64   `json:"connect_ms"`
	RunMS     float64   `json:"run_ms"`
	// Stdout and Stderr are the output (bytes that are not UTF-8 become
	// U+FFFD), cut to --json-max-output bytes each; the *Truncated fields
	// say when they were cut.
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated,omitempty"`
	StderrTruncated bool   `json:"stderr_truncated,omitempty"`
}

func newJSONResult(x *parallel.Result, class string, unreachable bool, o *hostOutput) jsonResult {
	j := jsonResult{
		Host: x.Label, Target: redact(x.Target), Status: "ok",
		Start: x.Start, End: x.End,
		ConnectMS: float64(x.Connect.Microseconds()) / 1000, RunMS: float64(x.Run.Microseconds()) / 1000,
	}
	if x.ExitCode >= 0 {
		code := x.ExitCode
		j.ExitCode = &code
	}
	if x.Err != nil {
		j.Status, j.ErrorClass, j.Error = "failed", class, errText(x)
		switch {
		case unreachable:
			j.Status = "unreachable"
		case class == classNotRun:
			j.Status = "not run"
		}
	}
	stdout, cut := o.stdout.kept()
	j.Stdout, j.StdoutTruncated = string(stdout), cut
	stderr, cut := o.stderr.kept()
	j.Stderr, j.StderrTruncated = string(stderr), cut
	return j
}

// redact hides the password of a target, "user:password@host".
func redact(target string) string {
	at := strings.LastIndexByte(target, '@')
	if c := strings.IndexByte(target, ':'); c >= 0 && c < at {
		return target[:c] + ":***" + target[at:]
	}
	return target
}

// summary prints the failed hosts (every host with all) and the count line.
func summary(w io.Writer, sub string, res parallel.Results, all bool, el time.Duration) {
	var rows parallel.Results
	ok, failed, unreachable, notRun := 0, 0, 0, 0
	for _, x := range res {
		if x.Err == nil {
			ok++
			if all {
				rows = append(rows, x)
			}
			continue
		}
		switch class, u := classify(sub, x); {
		case u:
			unreachable++
		case class == classNotRun:
			notRun++
		default:
			failed++
		}
		rows = append(rows, x)
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tSTATUS\tEXIT\tCONNECT\tRUN\tERROR")
		for _, x := range rows {
			st, msg := "ok", ""
			if x.Err != nil {
				class, u := classify(sub, x)
				st, msg = "FAILED", class+": "+errText(x)
				switch {
				case u:
					st = "UNREACHABLE"
				case class == classNotRun:
					st, msg = "NOT RUN", "--max-fail reached in an earlier batch"
				}
			}
			code := "-"
			if x.ExitCode >= 0 {
				code = fmt.Sprint(x.ExitCode)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Label, st, code, msec(x.Connect), msec(x.Run), msg)
		}
		tw.Flush()
	}
	more := ""
	if notRun > 0 {
		more = fmt.Sprintf(", %d not run", notRun)
	}
	fmt.Fprintf(w, "ossh: %d hosts: %d ok, %d failed, %d unreachable%s (%.1f s)\n", len(res), ok, failed, unreachable, more, el.Seconds())
}

func msec(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// exitStatus is ossh's exit status after a run (see the package doc).
func (rp *reporter) exitStatus(ctx context.Context) int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return exitInterrupted
	case rp.writeErr != nil:
		return exitInternal
	case rp.unreachable > 0:
		return exitUnreachable
	case rp.failed > 0:
		return exitFailed
	}
	return exitOK
}

// writeFailedHosts writes the targets of the hosts that failed, one per
// line: a hosts file for a re-run.
func writeFailedHosts(name string, res parallel.Results) error {
	var b strings.Builder
	for _, x := range res {
		if x.Err != nil {
			b.WriteString(x.Target + "\n")
		}
	}
	return os.WriteFile(name, []byte(b.String()), 0o666)
}

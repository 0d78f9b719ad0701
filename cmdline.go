package openssh

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// The remote command line of a Cmd: quoting of its arguments, the
// extended redirections, Dir and Env, and the checks of the fields that
// shape it.

// QuoteMode says whether the arguments of a [Cmd] are quoted for the remote
// shell.
type QuoteMode int

const (
	// QuoteAuto, the zero value, is Net::OpenSSH's rule: one argument is a
	// command line given to the remote shell as is; two or more are quoted
	// one by one and joined with spaces.
	QuoteAuto QuoteMode = iota
	// QuoteAlways quotes every argument, even a single one.
	QuoteAlways
	// QuoteNever joins the arguments with spaces without quoting them.
	QuoteNever
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// quoting reports whether the arguments are quoted.
func (c *Cmd) quoting() bool {
	switch c.QuoteArgs {
	case QuoteAlways:
		return true
	case QuoteNever:
		return false
	}
	return len(c.Args) >= 2
}

// validate checks the fields that do not depend on the streams.
func (c *Cmd) validate() error {
	if c.m == nil {
		return &ArgError{Arg: "Cmd", Reason: "not created by Master.Command"}
	}
	if c.ctx == nil {
		return &ArgError{Arg: "ctx", Reason: "nil context"}
	}
	if err := checkArgs("args", c.Args); err != nil {
		return err
	}
	if len(c.Args) > 0 && strings.TrimSpace(c.Args[0]) == "" {
		// As exec.Command(""): an empty line would run the login shell.
		return &ArgError{Arg: "Args[0]", Value: fmt.Sprintf("%q", c.Args[0]), Reason: "empty command (give no arguments for the login shell)"}
	}
	if err := checkArgs("SSHOpts", c.SSHOpts); err != nil {
		return err
	}
	if err := checkArgs("Env", c.Env); err != nil {
		return err
	}
	if err := checkArgs("Dir", []string{c.Dir}); err != nil {
		return err
	}
	if c.QuoteArgs < QuoteAuto || c.QuoteArgs > QuoteNever {
		return &ArgError{Arg: "QuoteArgs", Value: fmt.Sprint(int(c.QuoteArgs)), Reason: "unknown quote mode"}
	}
	q := c.quoting()
	if c.RemoteShell != "" && !q {
		return &ArgError{Arg: "RemoteShell", Value: fmt.Sprintf("%q", c.RemoteShell), Reason: "a per-command remote shell needs argument quoting on"}
	}
	if c.GlobQuoting && !q {
		return &ArgError{Arg: "GlobQuoting", Reason: "glob quoting needs argument quoting on"}
	}
	if c.IdleTimeout < 0 {
		return &ArgError{Arg: "IdleTimeout", Value: c.IdleTimeout.String(), Reason: "negative"}
	}
	if c.WaitDelay < 0 {
		return &ArgError{Arg: "WaitDelay", Value: c.WaitDelay.String(), Reason: "negative"}
	}
	if c.Subsystem {
		if len(c.Args) != 1 {
			return &ArgError{Arg: "Args", Value: fmt.Sprint(len(c.Args)), Reason: "a subsystem takes exactly one argument, its name"}
		}
		if c.Dir != "" || len(c.Env) > 0 {
			return &ArgError{Arg: "Subsystem", Reason: "Dir and Env cannot apply to a subsystem"}
		}
		if c.Tty {
			return &ArgError{Arg: "Subsystem", Reason: "a subsystem has no tty"}
		}
	}
	if (c.Dir != "" || len(c.Env) > 0) && len(c.Args) == 0 {
		return &ArgError{Arg: "Args", Reason: "Dir and Env need a command"}
	}
	for i, e := range c.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || !envNameRE.MatchString(k) {
			return &ArgError{Arg: fmt.Sprintf("Env[%d]", i), Value: shortQuote(e), Reason: "want NAME=value with NAME made of letters, digits and _"}
		}
	}
	return nil
}

// buildLine builds the remote command line. The discard flags decide the
// extended redirections appended when quoting is on.
func (c *Cmd) buildLine(inDiscard, outDiscard, errDiscard bool) (string, error) {
	args := c.m.expandAll(c.Args)
	if err := checkArgs("args", args); err != nil {
		return "", err
	}
	if len(args) == 0 {
		return "", nil
	}
	if c.Subsystem {
		return args[0], nil
	}
	q := c.m.quoter
	if c.RemoteShell != "" {
		var err error
		if q, err = QuoterFor(c.RemoteShell); err != nil {
			return "", err
		}
	}
	var line string
	if c.quoting() {
		var err error
		if line, err = quoteArgs(q, c.GlobQuoting, args); err != nil {
			return "", err
		}
		if !c.noExtended {
			if f := fragmentsFor(q, inDiscard, outDiscard, errDiscard, c.StderrToStdout); len(f) > 0 {
				line += " " + strings.Join(f, " ")
			}
		}
	} else {
		line = strings.Join(args, " ")
	}
	var pre strings.Builder
	if c.Dir != "" {
		d, err := q.Quote(c.m.expand(c.Dir))
		if err != nil {
			return "", err
		}
		pre.WriteString("cd " + d + " || exit 1; ")
	}
	if len(c.Env) > 0 {
		pre.WriteString("export")
		for _, e := range c.Env {
			k, v, _ := strings.Cut(e, "=")
			qv, err := q.Quote(v)
			if err != nil {
				return "", err
			}
			pre.WriteString(" " + k + "=" + qv)
		}
		pre.WriteString("; ")
	}
	line = pre.String() + line
	if c.sudo != nil {
		var err error
		if line, err = c.sudo.wrap(q, line); err != nil {
			return "", err
		}
	}
	return c.encodeLine(line)
}

// ownSSHOpts returns the ssh options given by the caller: SSHOpts, or
// Options.DefaultSSHOpts.
func (c *Cmd) ownSSHOpts() []string {
	switch {
	case c.SSHOpts != nil:
		return c.m.expandAll(c.SSHOpts)
	case !c.noDefaults:
		return c.m.opts.DefaultSSHOpts
	}
	return nil
}

// sshOpts returns the per-call ssh options.
func (c *Cmd) sshOpts() []string {
	var o []string
	if c.Tty {
		// No escape character: bytes written to the tty reach the remote
		// side as they are ("\n~." would end the session otherwise), as
		// over TransportMux. Placed first, so SSHOpts can set another.
		o = append(o, "-e", "none")
	}
	o = append(o, c.ownSSHOpts()...)
	if c.Tty {
		// No "Shared connection to ... closed." on the tty (Net::OpenSSH
		// uses -q), but ssh's errors, such as a refused session, still
		// reach the library.
		o = append(o, "-o", "LogLevel=ERROR")
	}
	return o
}

// String returns the remote command line as it would be sent, with the
// extended redirections for the streams as they are set now (a nil Stdout
// counts as discarded, a nil Stderr does not: its tail is kept for errors). It returns "" when the line cannot be
// built; Start reports why.
func (c *Cmd) String() string {
	if c.line != "" || c.started {
		return c.line
	}
	if c.validate() != nil {
		return ""
	}
	in, out, errd := c.discards()
	line, err := c.buildLine(in, out, errd)
	if err != nil {
		return ""
	}
	return line
}

// defaults returns the streams after applying the Master's defaults.
func (c *Cmd) defaults() (io.Reader, io.Writer, io.Writer) {
	in, out, errw := c.Stdin, c.Stdout, c.Stderr
	if !c.noDefaults {
		if in == nil {
			in = c.m.opts.DefaultStdin
		}
		if out == nil {
			out = c.m.opts.DefaultStdout
		}
		if errw == nil {
			errw = c.m.opts.DefaultStderr
		}
	}
	return in, out, errw
}

// discards reports which streams are discarded, for the extended
// redirections. Standard error counts as discarded only when it is
// io.Discard: a nil Stderr is read by the library, whose tail explains a
// failure in the [ExitError].
func (c *Cmd) discards() (in, out, errd bool) {
	i, o, e := c.defaults()
	in = i == nil && c.inPipeR == nil
	out = (o == nil || o == io.Discard) && c.outPipeW == nil
	errd = e == io.Discard && c.errPipeW == nil && !c.StderrToStdout
	return
}

package openssh

// Temporary until the quoting branch lands: a minimal POSIX quoter with the
// names of the quoting contract, so the command code compiles and runs.
// The lead deletes this file when merging.

import "strings"

// Quoter quotes arguments for a remote shell.
type Quoter interface {
	Quote(string) (string, error)
	QuoteGlob(string) (string, error)
	Fragment(Fragment) (string, bool)
}

// Fragment names an extended redirection.
type Fragment int

// The extended redirections.
const (
	StdinDiscard Fragment = iota
	StdoutDiscard
	StderrDiscard
	StdoutAndStderrDiscard
	StderrToStdout
)

type stubPOSIX struct{}

func stubSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_./@,:-", c) >= 0
}

func (stubPOSIX) Quote(s string) (string, error) {
	if s == "" {
		return "''", nil
	}
	safe := true
	for i := 0; i < len(s); i++ {
		if !stubSafe(s[i]) {
			safe = false
			break
		}
	}
	if safe {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

func (q stubPOSIX) QuoteGlob(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if stubSafe(c) || strings.IndexByte("*?[]{}~!^", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		x, _ := q.Quote(string(c))
		b.WriteString(x)
	}
	if b.Len() == 0 {
		return "''", nil
	}
	return b.String(), nil
}

func (stubPOSIX) Fragment(f Fragment) (string, bool) {
	switch f {
	case StdinDiscard:
		return "</dev/null", true
	case StdoutDiscard:
		return ">/dev/null", true
	case StderrDiscard:
		return "2>/dev/null", true
	case StdoutAndStderrDiscard:
		return ">/dev/null 2>&1", true
	case StderrToStdout:
		return "2>&1", true
	}
	return "", false
}

// QuoterFor returns the quoter for a remote shell name.
func QuoterFor(name string) (Quoter, error) {
	switch name {
	case "", "sh", "bash", "POSIX", "dash", "ksh", "zsh":
		return stubPOSIX{}, nil
	}
	return nil, &ArgError{Arg: "RemoteShell", Value: name, Reason: "unknown shell (stub quoter)"}
}

func quoteArgs(q Quoter, glob bool, args []string) (string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		var err error
		if glob {
			out[i], err = q.QuoteGlob(a)
		} else {
			out[i], err = q.Quote(a)
		}
		if err != nil {
			return "", err
		}
	}
	return strings.Join(out, " "), nil
}

func fragmentsFor(q Quoter, stdinDiscard, stdoutDiscard, stderrDiscard, stderrToStdout bool) []string {
	var fs []Fragment
	if stdoutDiscard && (stderrDiscard || stderrToStdout) {
		fs = append(fs, StdoutAndStderrDiscard)
		if stdinDiscard {
			fs = append(fs, StdinDiscard)
		}
	} else {
		if stdinDiscard {
			fs = append(fs, StdinDiscard)
		}
		if stdoutDiscard {
			fs = append(fs, StdoutDiscard)
		}
		if stderrDiscard {
			fs = append(fs, StderrDiscard)
		}
		if stderrToStdout {
			fs = append(fs, StderrToStdout)
		}
	}
	var out []string
	for _, f := range fs {
		if s, ok := q.Fragment(f); ok {
			out = append(out, s)
		}
	}
	return out
}

// ShellQuote quotes args for a POSIX shell and joins them with spaces.
func ShellQuote(args ...string) (string, error) { return quoteArgs(stubPOSIX{}, false, args) }

type varTable struct{}

func newVarTable(map[string]string, bool) *varTable { return nil }

func (m *Master) expand(s string) string { return s }

func (m *Master) expandAll(a []string) []string { return a }

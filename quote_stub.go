package openssh

import (
	"strings"
)

// Temporary until the quoting branch lands: a minimal POSIX quoter with the
// names of the quoting contract. The lead deletes this file on merge.

// Quoter quotes arguments for the remote shell.
type Quoter interface {
	Quote(string) (string, error)
	QuoteGlob(string) (string, error)
	Fragment(Fragment) (string, bool)
}

// Fragment names a redirection fragment.
type Fragment int

// Redirection fragments.
const (
	StdinDiscard Fragment = iota
	StdoutDiscard
	StderrDiscard
	StdoutAndStderrDiscard
	StderrToStdout
)

type stubPOSIX struct{}

func (stubPOSIX) Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", &ArgError{Arg: "argument", Value: shortQuote(s), Reason: "NUL byte", Err: ErrEncoding}
	}
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./,:@%=") == "" {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

func (q stubPOSIX) QuoteGlob(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", &ArgError{Arg: "argument", Value: shortQuote(s), Reason: "NUL byte", Err: ErrEncoding}
	}
	var b strings.Builder
	lit := ""
	flush := func() {
		if lit != "" {
			x, _ := q.Quote(lit)
			b.WriteString(x)
			lit = ""
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']':
			flush()
			b.WriteByte(c)
		case '\\':
			if i+1 < len(s) {
				i++
				lit += s[i : i+1]
			} else {
				lit += `\`
			}
		default:
			lit += s[i : i+1]
		}
	}
	flush()
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
func QuoterFor(string) (Quoter, error) { return stubPOSIX{}, nil }

// ShellQuote quotes args for a POSIX shell and joins them with spaces.
func ShellQuote(args ...string) (string, error) { return quoteArgs(stubPOSIX{}, false, args) }

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

type varTable struct{}

func newVarTable(map[string]string, bool) *varTable { return nil }

func (m *Master) expand(s string) string { return s }

func (m *Master) expandAll(a []string) []string { return a }

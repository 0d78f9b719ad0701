package openssh

import (
	"errors"
	"fmt"
	"strings"
)

// Fragment names a redirection appended to the remote command line when a
// stream is discarded (Net::OpenSSH's "extended quoting").
type Fragment int

// The redirections a [Quoter] may know how to write. The POSIX text is
// shown for each.
const (
	// StdinDiscard reads stdin from the null device: </dev/null.
	StdinDiscard Fragment = iota
	// StdoutDiscard discards stdout: >/dev/null.
	StdoutDiscard
	// StderrDiscard discards stderr: 2>/dev/null.
	StderrDiscard
	// StdoutAndStderrDiscard discards both: >/dev/null 2>&1.
	StdoutAndStderrDiscard
	// StderrToStdout sends stderr where stdout goes: 2>&1.
	StderrToStdout
)

var fragmentNames = [...]string{
	StdinDiscard:           "stdin_discard",
	StdoutDiscard:          "stdout_discard",
	StderrDiscard:          "stderr_discard",
	StdoutAndStderrDiscard: "stdout_and_stderr_discard",
	StderrToStdout:         "stderr_to_stdout",
}

// String returns the Net::OpenSSH name of the fragment, such as
// "stdin_discard".
func (f Fragment) String() string {
	if f >= 0 && int(f) < len(fragmentNames) {
		return fragmentNames[f]
	}
	return fmt.Sprintf("Fragment(%d)", int(f))
}

// Quoter turns arguments into words for one kind of remote shell. The
// remote command is sent by ssh as a single string, which the remote user's
// shell splits again, so every argument must be quoted for that shell.
//
// Quote must return text that the shell reads back as exactly arg, with no
// expansion of any kind. QuoteGlob does the same except that the wildcard
// characters of the shell (*, ?, [...], {...}, a leading ~) are left active
// and a backslash in arg escapes the wildcard or backslash that follows it.
// Both return an error wrapping [ErrEncoding] (normally an [*ArgError]) when
// arg cannot be represented for the shell, such as a NUL byte; they never
// drop or alter bytes.
//
// A Quoter must be safe for concurrent use. Implement it to support a shell
// this package does not know, and set it as [Options.Quoter].
type Quoter interface {
	Quote(arg string) (string, error)
	QuoteGlob(arg string) (string, error)
	// Fragment returns the shell's text for f, or ok=false when the shell has none.
	Fragment(f Fragment) (frag string, ok bool)
}

// The built-in quoters. They are stateless values, safe for concurrent use.
var (
	// POSIX quotes for the Bourne family: sh, bash, dash, ksh, mksh, zsh,
	// busybox ash and the like. It produces the same text as Net::OpenSSH,
	// except that it refuses a NUL byte.
	POSIX Quoter = posixQuoter{}
	// Csh quotes for csh and tcsh. It escapes "!" (history substitution)
	// and newlines, which csh treats specially even inside single quotes.
	Csh Quoter = cshQuoter{}
	// Fish quotes for the fish shell.
	Fish Quoter = fishQuoter{}
	// MSWin quotes for a Windows program that splits its command line with
	// the Microsoft C runtime rules (CommandLineToArgvW), as when a Windows
	// sshd starts the command directly. It has no redirection fragments.
	MSWin Quoter = msWinQuoter{}
	// MSCmd escapes the metacharacters of cmd.exe with "^". Arguments that
	// are empty or hold a space or tab are grouped in double quotes, unless
	// they already contain a double quote, in which case the caller (usually
	// MSWin in the "MSCmd,MSWin" chain) is expected to have grouped them.
	// CR, LF and NUL cannot be passed through cmd.exe and are refused.
	// cmd.exe alone does not split arguments: to pass an exact argv to an
	// ordinary Windows program use QuoterFor("MSCmd,MSWin").
	MSCmd Quoter = msCmdQuoter{}
)

// shellAliases maps every name QuoterFor accepts (lower-cased) to its
// quoter, as Net::OpenSSH maps remote_shell names.
var shellAliases = map[string]Quoter{
	"posix": POSIX,
	"sh":    POSIX,
	"bash":  POSIX,
	"ksh":   POSIX,
	"ash":   POSIX,
	"dash":  POSIX,
	"pdksh": POSIX,
	"mksh":  POSIX,
	"lksh":  POSIX,
	"zsh":   POSIX,
	"fizsh": POSIX,
	"posh":  POSIX,
	"csh":   Csh,
	"tcsh":  Csh,
	"fish":  Fish,
	"mswin": MSWin,
	"mscmd": MSCmd,
}

// QuoterFor returns the quoter for the remote shell called name: "" means
// POSIX; "sh", "bash", "dash", "ksh", "mksh", "zsh", "ash", ... are POSIX;
// "csh" and "tcsh" are [Csh]; "fish" is [Fish]; "MSWin" and "MSCmd" are
// the Windows quoters. Names are matched without regard to case.
//
// A comma-separated list such as "MSCmd,MSWin" gives a chain (see
// [ChainQuoter]): the last named quoter is applied first. An unknown name
// gives an [*ArgError].
func QuoterFor(name string) (Quoter, error) {
	if strings.TrimSpace(name) == "" {
		return POSIX, nil
	}
	if strings.Contains(name, ",") {
		parts := strings.Split(name, ",")
		qs := make([]Quoter, 0, len(parts))
		for _, p := range parts {
			q, err := quoterByName(strings.TrimSpace(p), name)
			if err != nil {
				return nil, err
			}
			qs = append(qs, q)
		}
		return ChainQuoter(qs...)
	}
	return quoterByName(strings.TrimSpace(name), name)
}

func quoterByName(name, full string) (Quoter, error) {
	if q, ok := shellAliases[strings.ToLower(name)]; ok {
		return q, nil
	}
	reason := "unknown remote shell"
	if name == "" {
		reason = "empty name in remote shell chain"
	}
	return nil, &ArgError{Arg: "remote shell", Value: displayValue(full), Reason: reason}
}

// ChainQuoter returns a quoter that applies each of qs in turn, the last
// one first, so that ChainQuoter(MSCmd, MSWin) quotes for a Windows program
// (MSWin) started through cmd.exe (MSCmd). This is the order in which
// QuoterFor reads "MSCmd,MSWin". QuoteGlob uses the QuoteGlob of the last
// quoter and then the Quote of the others. Fragments come from the first
// quoter, the outermost shell. It returns an [*ArgError] when qs is empty
// or holds a nil quoter.
func ChainQuoter(qs ...Quoter) (Quoter, error) {
	if len(qs) == 0 {
		return nil, &ArgError{Arg: "remote shell", Reason: "empty quoter chain"}
	}
	for i, q := range qs {
		if q == nil {
			return nil, &ArgError{Arg: fmt.Sprintf("quoter[%d]", i), Reason: "nil quoter in chain"}
		}
	}
	if len(qs) == 1 {
		return qs[0], nil
	}
	return chainQuoter(append([]Quoter(nil), qs...)), nil
}

// chainQuoter holds its quoters in the order named; the last one is applied
// first.
type chainQuoter []Quoter

func (c chainQuoter) Quote(arg string) (string, error) {
	var err error
	for i := len(c) - 1; i >= 0; i-- {
		if arg, err = c[i].Quote(arg); err != nil {
			return "", err
		}
	}
	return arg, nil
}

func (c chainQuoter) QuoteGlob(arg string) (string, error) {
	arg, err := c[len(c)-1].QuoteGlob(arg)
	if err != nil {
		return "", err
	}
	for i := len(c) - 2; i >= 0; i-- {
		if arg, err = c[i].Quote(arg); err != nil {
			return "", err
		}
	}
	return arg, nil
}

func (c chainQuoter) Fragment(f Fragment) (string, bool) { return c[0].Fragment(f) }

// ShellQuote quotes each argument for a POSIX shell and joins them with
// single spaces, giving a command line that a remote sh, bash, ... splits
// back into exactly args. A NUL byte gives an [*ArgError] matching
// [ErrEncoding]. It never expands %VAR% variables; see [Master.ShellQuote].
func ShellQuote(args ...string) (string, error) {
	return quoteArgs(POSIX, false, args)
}

// ShellQuoteGlob is like [ShellQuote] but leaves the shell's wildcards
// active, so that the remote shell expands them. A backslash escapes the
// wildcard or backslash that follows it.
func ShellQuoteGlob(args ...string) (string, error) {
	return quoteArgs(POSIX, true, args)
}

// ShellQuote quotes args for the master's remote shell (Options.RemoteShell
// or Options.Quoter) and joins them with single spaces. When variable
// expansion is on, each argument is expanded first (see [Master.SetVar]).
// Text that must reach the remote shell verbatim, such as "&&" or a
// redirection, is not an argument: quote the parts and concatenate the raw
// text yourself.
func (m *Master) ShellQuote(args ...string) (string, error) {
	return quoteArgs(m.remoteQuoter(), false, m.expandAll(args))
}

// ShellQuoteGlob is like [Master.ShellQuote] but leaves wildcards active, as
// [ShellQuoteGlob] does.
func (m *Master) ShellQuoteGlob(args ...string) (string, error) {
	return quoteArgs(m.remoteQuoter(), true, m.expandAll(args))
}

func (m *Master) remoteQuoter() Quoter {
	if m.quoter == nil {
		return POSIX
	}
	return m.quoter
}

// quoteArgs quotes each of args with q (QuoteGlob when glob is set) and
// joins the results with single spaces. An error names the argument by its
// index.
func quoteArgs(q Quoter, glob bool, args []string) (string, error) {
	var b strings.Builder
	for i, a := range args {
		var s string
		var err error
		if glob {
			s, err = q.QuoteGlob(a)
		} else {
			s, err = q.Quote(a)
		}
		if err != nil {
			var ae *ArgError
			if errors.As(err, &ae) {
				c := *ae
				c.Arg = fmt.Sprintf("args[%d]", i)
				return "", &c
			}
			return "", err
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// fragmentsFor returns the redirections q writes for the discarded streams,
// chosen as Net::OpenSSH does: when stdout is discarded together with
// stderr (discarded or sent to stdout), one combined fragment is used,
// followed by the stdin one; otherwise each requested fragment in the order
// stdin, stdout, stderr, stderr-to-stdout. Fragments the shell lacks are
// left out (the local redirection still applies).
func fragmentsFor(q Quoter, stdinDiscard, stdoutDiscard, stderrDiscard, stderrToStdout bool) []string {
	var fs []Fragment
	if stdoutDiscard && (stderrDiscard || stderrToStdout) {
		fs = append(fs, StdoutAndStderrDiscard)
		if stdinDiscard {
			fs = append(fs, StdinDiscard)
		}
	} else {
		for _, x := range []struct {
			on bool
			f  Fragment
		}{
			{stdinDiscard, StdinDiscard},
			{stdoutDiscard, StdoutDiscard},
			{stderrDiscard, StderrDiscard},
			{stderrToStdout, StderrToStdout},
		} {
			if x.on {
				fs = append(fs, x.f)
			}
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

// displayValue quotes s for an error message, shortened to about 40 bytes.
func displayValue(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// encodingError reports an argument that cannot be represented for shell.
func encodingError(arg, shell, what string) error {
	return &ArgError{
		Arg:    "argument",
		Value:  displayValue(arg),
		Reason: what + " cannot be passed through " + shell,
		Err:    ErrEncoding,
	}
}

// Character classes shared by the Unix quoters. safe bytes never need
// quoting; glob bytes are the wildcard syntax that QuoteGlob leaves active.
var safeBytes, globBytes [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		safeBytes[c] = true
		safeBytes[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		safeBytes[c] = true
	}
	for _, c := range "_./@,:-" {
		safeBytes[c] = true
	}
	for _, c := range "*?[],{}:!^~" {
		globBytes[c] = true
	}
}

func allSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if !safeBytes[s[i]] {
			return false
		}
	}
	return true
}

func checkNUL(arg, shell string) error {
	if strings.IndexByte(arg, 0) >= 0 {
		return encodingError(arg, shell, "a NUL byte")
	}
	return nil
}

// posixQuoter writes single-quoted strings; a single quote is written as
// \' and a run of several as that run in double quotes.
type posixQuoter struct{}

func (posixQuoter) Quote(arg string) (string, error) {
	if err := checkNUL(arg, "a shell"); err != nil {
		return "", err
	}
	if arg == "" {
		return "''", nil
	}
	var b strings.Builder
	b.Grow(len(arg) + 8)
	if arg[0] == '\'' {
		// Net::OpenSSH emits an empty '' before a leading quote; keep
		// its output byte for byte.
		b.WriteString("''")
	}
	for len(arg) > 0 {
		n := runLen(arg, func(c byte) bool { return c == '\'' })
		if n > 0 {
			writeQuoteRun(&b, n)
		} else {
			n = runLen(arg, func(c byte) bool { return c != '\'' })
			piece := arg[:n]
			if allSafe(piece) {
				b.WriteString(piece)
			} else {
				b.WriteByte('\'')
				b.WriteString(piece)
				b.WriteByte('\'')
			}
		}
		arg = arg[n:]
	}
	return b.String(), nil
}

func (posixQuoter) QuoteGlob(arg string) (string, error) {
	if err := checkNUL(arg, "a shell"); err != nil {
		return "", err
	}
	return globScan(arg, globStyle{}), nil
}

func (posixQuoter) Fragment(f Fragment) (string, bool) { return posixFragment(f) }

func posixFragment(f Fragment) (string, bool) {
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

// runLen returns the length of the prefix of s whose bytes satisfy in.
func runLen(s string, in func(byte) bool) int {
	n := 0
	for n < len(s) && in(s[n]) {
		n++
	}
	return n
}

// writeQuoteRun writes n single quotes: \' for one, the run inside double
// quotes for more.
func writeQuoteRun(b *strings.Builder, n int) {
	if n == 1 {
		b.WriteString(`\'`)
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.Repeat("'", n))
	b.WriteByte('"')
}

// globStyle holds the differences between the shells in QuoteGlob.
type globStyle struct {
	// csh: "!" must be escaped even as a wildcard, and quoted runs
	// use the csh single-quote rules.
	//
	// Bytes >= 0x80 stay quoted. tcsh 6.24 in a UTF-8 locale never
	// matches a quoted (or backslash-escaped) multibyte character in a
	// pattern, so caf'é'* finds nothing there while café* would; but
	// leaving such bytes bare is not an option: BSD csh hangs on a word
	// where an unquoted byte such as 0xa0 is followed by quoting.
	csh bool
}

// globScan quotes arg leaving wildcards active. It reads arg as runs of:
// single quotes (written as by writeQuoteRun); safe or wildcard bytes (verbatim); a
// backslash followed by a wildcard or backslash (verbatim, so an escaped
// wildcard stays escaped); a lone backslash (written \\); anything else up
// to the next wildcard, backslash or quote (single-quoted).
func globScan(arg string, st globStyle) string {
	if arg == "" {
		return "''"
	}
	var b strings.Builder
	b.Grow(len(arg) + 8)
	for len(arg) > 0 {
		c := arg[0]
		var n int
		switch {
		case c == '\'':
			n = runLen(arg, func(c byte) bool { return c == '\'' })
			writeQuoteRun(&b, n)
		case safeBytes[c] || globBytes[c]:
			n = runLen(arg, func(c byte) bool { return safeBytes[c] || globBytes[c] })
			run := arg[:n]
			if st.csh {
				run = strings.ReplaceAll(run, "!", `\!`)
			}
			b.WriteString(run)
		case c == '\\':
			if len(arg) > 1 && (globBytes[arg[1]] || arg[1] == '\\') {
				n = 2
				b.WriteString(arg[:2])
			} else {
				n = 1
				b.WriteString(`\\`)
			}
		default:
			n = runLen(arg, func(c byte) bool { return !globBytes[c] && c != '\\' && c != '\'' })
			if st.csh {
				writeCshSingle(&b, arg[:n])
			} else {
				b.WriteByte('\'')
				b.WriteString(arg[:n])
				b.WriteByte('\'')
			}
		}
		arg = arg[n:]
	}
	return b.String()
}

// cshQuoter is like posixQuoter, but csh performs history substitution on
// "!" and ends a word at a newline even inside single quotes, so both are
// backslash-escaped there.
type cshQuoter struct{}

func (cshQuoter) Quote(arg string) (string, error) {
	if err := checkNUL(arg, "csh"); err != nil {
		return "", err
	}
	if arg == "" {
		return "''", nil
	}
	var b strings.Builder
	b.Grow(len(arg) + 8)
	for len(arg) > 0 {
		i := strings.IndexByte(arg, '\'')
		if i == 0 {
			b.WriteString(`\'`)
			arg = arg[1:]
			continue
		}
		if i < 0 {
			i = len(arg)
		}
		piece := arg[:i]
		if allSafe(piece) {
			b.WriteString(piece)
		} else {
			writeCshSingle(&b, piece)
		}
		arg = arg[i:]
	}
	return b.String(), nil
}

// writeCshSingle writes s (without single quotes) single-quoted for csh.
//
// tcsh in a UTF-8 locale decodes the obsolete six-byte sequences that
// start with 0xfd into values that collide with its internal flag bits,
// and prints them back as a single 0xff. A 0xfd followed by a continuation
// byte is therefore followed by two single quotes (closing and reopening
// the quoted string), which breaks the sequence without changing the word.
func writeCshSingle(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '!' || c == '\n' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
		if c == 0xfd && i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
			b.WriteString("''")
		}
	}
	b.WriteByte('\'')
}

// QuoteGlob fixes Net::OpenSSH, which dies on a backslash that does not
// escape a wildcard: such a backslash is written \\ as for POSIX. A "!"
// is written \! so that csh does not take it for a history reference.
func (cshQuoter) QuoteGlob(arg string) (string, error) {
	if err := checkNUL(arg, "csh"); err != nil {
		return "", err
	}
	return globScan(arg, globStyle{csh: true}), nil
}

func (cshQuoter) Fragment(f Fragment) (string, bool) {
	switch f {
	case StdinDiscard:
		return "</dev/null", true
	case StdoutDiscard:
		return ">/dev/null", true
	case StdoutAndStderrDiscard:
		return ">&/dev/null", true
	}
	return "", false
}

// fishQuoter uses single quotes, inside which fish reads \\ and \' as
// escapes and everything else literally.
type fishQuoter struct{}

func (fishQuoter) Quote(arg string) (string, error) {
	if err := checkNUL(arg, "fish"); err != nil {
		return "", err
	}
	if arg != "" && allSafe(arg) {
		return arg, nil
	}
	var b strings.Builder
	b.Grow(len(arg) + 8)
	b.WriteByte('\'')
	for i := 0; i < len(arg); i++ {
		if arg[i] == '\\' || arg[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(arg[i])
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// QuoteGlob uses the POSIX rules, whose escapes fish reads the same way.
func (fishQuoter) QuoteGlob(arg string) (string, error) {
	if err := checkNUL(arg, "fish"); err != nil {
		return "", err
	}
	return globScan(arg, globStyle{}), nil
}

func (fishQuoter) Fragment(f Fragment) (string, bool) { return posixFragment(f) }

// msWinQuoter follows the Microsoft C runtime rules for splitting a
// command line: an argument with white space or a double quote is wrapped
// in double quotes, each inner quote is written \", and backslashes are
// doubled where they precede a quote.
type msWinQuoter struct{}

func (msWinQuoter) Quote(arg string) (string, error) {
	if err := checkNUL(arg, "a Windows command line"); err != nil {
		return "", err
	}
	if arg == "" {
		return `""`, nil
	}
	if !strings.ContainsAny(arg, " \t\n\v\"") {
		return arg, nil
	}
	var b strings.Builder
	b.Grow(len(arg) + 8)
	b.WriteByte('"')
	for i := 0; i < len(arg); {
		if arg[i] == '\\' {
			// Backslashes are literal unless they precede a quote
			// (an inner one, or the closing one at the end).
			end := i + runLen(arg[i:], func(c byte) bool { return c == '\\' })
			n := end - i
			if end == len(arg) || arg[end] == '"' {
				n *= 2
			}
			b.WriteString(strings.Repeat(`\`, n))
			i = end
			continue
		}
		if arg[i] == '"' {
			b.WriteString(`\"`)
		} else {
			b.WriteByte(arg[i])
		}
		i++
	}
	b.WriteByte('"')
	return b.String(), nil
}

func (q msWinQuoter) QuoteGlob(arg string) (string, error) { return q.Quote(arg) }

func (msWinQuoter) Fragment(Fragment) (string, bool) { return "", false }

// msCmdQuoter escapes the metacharacters of cmd.exe with a caret.
type msCmdQuoter struct{}

func isCmdSpecial(c byte) bool {
	return strings.IndexByte(`()%!^"<>&|`, c) >= 0
}

// Quote fixes Net::OpenSSH, which never groups: an empty argument, or one
// with a space, tab or vertical tab and no double quote, is wrapped in
// double quotes. These are the characters MSWin also groups on, so that in
// the "MSCmd,MSWin" chain MSCmd never groups again what MSWin left bare
// (grouping a\ would turn its final backslash into an escaped quote). When
// the argument also holds a metacharacter the quotes are written ^" so
// that cmd.exe stays outside quoted mode, where a caret escapes; inside a
// quoted region it would be passed on literally.
func (msCmdQuoter) Quote(arg string) (string, error) {
	if i := strings.IndexAny(arg, "\x00\r\n"); i >= 0 {
		what := "a NUL byte"
		if arg[i] != 0 {
			what = "a newline"
		}
		return "", encodingError(arg, "cmd.exe", what)
	}
	group := arg == "" || strings.ContainsAny(arg, " \t\v") && !strings.Contains(arg, `"`)
	special := false
	for i := 0; i < len(arg); i++ {
		if isCmdSpecial(arg[i]) {
			special = true
			break
		}
	}
	if group && !special {
		return `"` + arg + `"`, nil
	}
	var b strings.Builder
	b.Grow(len(arg) + 8)
	if group {
		b.WriteString(`^"`)
	}
	for i := 0; i < len(arg); i++ {
		if isCmdSpecial(arg[i]) {
			b.WriteByte('^')
		}
		b.WriteByte(arg[i])
	}
	if group {
		b.WriteString(`^"`)
	}
	return b.String(), nil
}

func (q msCmdQuoter) QuoteGlob(arg string) (string, error) { return q.Quote(arg) }

func (msCmdQuoter) Fragment(f Fragment) (string, bool) {
	switch f {
	case StdinDiscard:
		return "<NUL:", true
	case StdoutDiscard:
		return ">NUL:", true
	case StderrDiscard:
		return "2>NUL:", true
	case StdoutAndStderrDiscard:
		return ">NUL: 2>&1", true
	case StderrToStdout:
		return "2>&1", true
	}
	return "", false
}

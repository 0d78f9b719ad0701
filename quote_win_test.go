package openssh

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// There is no Windows here, so the Windows quoters are checked against
// models of the two parsers involved.

// parseWinArgs splits a command line as the Microsoft C runtime (2008 and
// later) does for argv[1:]: space and tab separate arguments outside
// double quotes; 2n backslashes before a quote give n backslashes and the
// quote toggles quoting, 2n+1 give n backslashes and a literal quote; a
// doubled quote inside quotes gives a literal quote; other backslashes are
// literal.
func parseWinArgs(line string) []string {
	var args []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			return args
		}
		var cur strings.Builder
		inQuote := false
		for i < len(line) {
			c := line[i]
			if !inQuote && (c == ' ' || c == '\t') {
				break
			}
			switch c {
			case '\\':
				n := 0
				for i < len(line) && line[i] == '\\' {
					n++
					i++
				}
				if i < len(line) && line[i] == '"' {
					cur.WriteString(strings.Repeat(`\`, n/2))
					if n%2 == 1 {
						cur.WriteByte('"')
						i++
					}
				} else {
					cur.WriteString(strings.Repeat(`\`, n))
				}
			case '"':
				if inQuote && i+1 < len(line) && line[i+1] == '"' {
					cur.WriteByte('"')
					i += 2
				} else {
					inQuote = !inQuote
					i++
				}
			default:
				cur.WriteByte(c)
				i++
			}
		}
		args = append(args, cur.String())
	}
}

// cmdPass models what cmd.exe does to a command line it runs (with
// delayed expansion off) before handing it to the program: outside double
// quotes a caret escapes the next character and is removed, a quote
// toggles quoting; inside quotes everything but the quote is literal. It
// fails on what cmd.exe would act on: an unescaped & | < > ( ) or %, a %
// inside quotes, a trailing caret.
func cmdPass(line string) (string, error) {
	var out strings.Builder
	inQuote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inQuote {
			if c == '%' {
				return "", fmt.Errorf("%% inside quotes at %d", i)
			}
			if c == '"' {
				inQuote = false
			}
			out.WriteByte(c)
			continue
		}
		switch c {
		case '^':
			if i+1 == len(line) {
				return "", fmt.Errorf("trailing caret")
			}
			i++
			out.WriteByte(line[i])
		case '"':
			inQuote = true
			out.WriteByte(c)
		case '&', '|', '<', '>', '(', ')', '%', '\r', '\n', 0:
			return "", fmt.Errorf("unescaped %q at %d", c, i)
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), nil
}

func TestParseWinArgsModel(t *testing.T) {
	// Examples from Microsoft's documentation of argv parsing.
	tests := []struct {
		line string
		want []string
	}{
		{`"abc" d e`, []string{"abc", "d", "e"}},
		{`a\\b d"e f"g h`, []string{`a\\b`, "de fg", "h"}},
		{`a\\\"b c d`, []string{`a\"b`, "c", "d"}},
		{`a\\\\"b c" d e`, []string{`a\\b c`, "d", "e"}},
		{`a"b"" c d`, []string{`ab" c d`}},
	}
	for _, tt := range tests {
		if got := parseWinArgs(tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("parseWinArgs(%s) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func randomWinArgs(r *rand.Rand, noNewline bool) []string {
	args := make([]string, 1+r.IntN(4))
	alpha := []byte(" \t\v\n\\\"\\\"ab ()%!^<>&|'*?~=,;\xc3\xa9\xff")
	for i := range args {
		b := []byte(randomString(r, alpha, r.IntN(12)))
		if noNewline {
			for j := range b {
				if b[j] == '\n' {
					b[j] = 'n'
				}
			}
		}
		args[i] = string(b)
	}
	return args
}

func checkMSWin(t testing.TB, args []string) {
	line, err := quoteArgs(MSWin, false, args)
	if err != nil {
		t.Fatalf("MSWin %q: %v", args, err)
	}
	if got := parseWinArgs(line); !slices.Equal(got, args) {
		t.Fatalf("MSWin %q quoted as %s parses as %q", args, line, got)
	}
}

func checkMSCmdMSWin(t testing.TB, args []string) {
	q, err := QuoterFor("MSCmd,MSWin")
	if err != nil {
		t.Fatal(err)
	}
	line, err := quoteArgs(q, false, args)
	if err != nil {
		t.Fatalf("MSCmd,MSWin %q: %v", args, err)
	}
	passed, err := cmdPass(line)
	if err != nil {
		t.Fatalf("MSCmd,MSWin %q quoted as %s: cmd.exe would act on it: %v", args, line, err)
	}
	if got := parseWinArgs(passed); !slices.Equal(got, args) {
		t.Fatalf("MSCmd,MSWin %q quoted as %s reaches the program as %s, parsed %q", args, line, passed, got)
	}
}

// checkMSCmd checks that cmd.exe hands the program each argument as is,
// or wrapped in double quotes when it needed grouping.
func checkMSCmd(t testing.TB, arg string) {
	w, err := MSCmd.Quote(arg)
	if err != nil {
		t.Fatalf("MSCmd %q: %v", arg, err)
	}
	passed, err := cmdPass(w)
	if err != nil {
		t.Fatalf("MSCmd %q quoted as %s: cmd.exe would act on it: %v", arg, w, err)
	}
	want := arg
	if arg == "" || strings.ContainsAny(arg, " \t\v") && !strings.Contains(arg, `"`) {
		want = `"` + arg + `"`
	}
	if passed != want {
		t.Fatalf("MSCmd %q quoted as %s reaches the program as %s, want %s", arg, w, passed, want)
	}
}

func TestMSWinRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 7))
	for range 5000 {
		checkMSWin(t, randomWinArgs(r, false))
		checkMSCmdMSWin(t, randomWinArgs(r, true))
		for _, a := range randomWinArgs(r, true) {
			checkMSCmd(t, a)
		}
	}
}

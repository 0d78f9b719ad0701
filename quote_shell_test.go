package openssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shellSpec is a real shell to check a quoter against.
type shellSpec struct {
	name   string   // for test names
	argv   []string // the shell and the options put before -c
	quoter Quoter
}

// ksh is AT&T ksh93 (93u+m/1.0.4) here. Net::OpenSSH's t/quoting.t skips
// AT&T ksh because an older one misread a quote after a byte >= 0x80 (its
// "broken ksh" string \x82'<~{, kept in nastyStrings); this one reads
// every string back in both the C and the UTF-8 locale, so it is tested
// like the others, with no special locale.
//
// Startup files are skipped (-f, --no-config): they belong to the user, not
// to the quoting. sshd runs the remote command as `$SHELL -c <command>`,
// which is the form used here.
var testShells = []shellSpec{
	{"sh", []string{"sh"}, POSIX},
	{"dash", []string{"dash"}, POSIX},
	{"bash", []string{"bash", "--norc", "--noprofile"}, POSIX},
	{"zsh", []string{"zsh", "-f"}, POSIX},
	{"mksh", []string{"mksh"}, POSIX},
	{"ksh", []string{"ksh"}, POSIX},
	{"busybox-ash", []string{"busybox", "ash"}, POSIX},
	{"csh", []string{"csh", "-f"}, Csh},
	{"tcsh", []string{"tcsh", "-f"}, Csh},
	{"fish", []string{"fish", "--no-config"}, Fish},
}

// shellLocales are the locales every shell is run in: the remote locale
// is not known (sshd may accept LANG/LC_* from the client), and shells
// that decode multibyte text behave differently in a UTF-8 locale.
var shellLocales = []string{"C.UTF-8", "C"}

var shellCheck sync.Map // name -> *error

// shellUsable reports why sh cannot be run, or nil. The answer is cached.
func shellUsable(sh shellSpec) error {
	v, ok := shellCheck.Load(sh.name)
	if !ok {
		var err error
		if _, err = exec.LookPath(sh.argv[0]); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, e := exec.CommandContext(ctx, sh.argv[0], append(slices.Clone(sh.argv[1:]), "-c", "echo good")...).Output()
			cancel()
			if e != nil || string(out) != "good\n" {
				err = fmt.Errorf("%s -c 'echo good' gave %q, %v", sh.name, out, e)
			}
		}
		v, _ = shellCheck.LoadOrStore(sh.name, &err)
	}
	return *v.(*error)
}

// requireShell skips the test when sh is not installed, or fails it when
// the CI environment variable is set (CI installs every shell).
func requireShell(t testing.TB, sh shellSpec) {
	t.Helper()
	if err := shellUsable(sh); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shell %s is required under CI: %v", sh.name, err)
		}
		t.Skipf("shell %s not usable: %v", sh.name, err)
	}
}

func shellByName(name string) shellSpec {
	for _, s := range testShells {
		if s.name == name {
			return s
		}
	}
	panic("no shell " + name)
}

// runShell runs script with `sh -c` in the given locale and directory and
// returns its standard output. A non-zero exit or any standard error
// output is an error.
func runShell(sh shellSpec, locale, dir, script string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh.argv[0], append(slices.Clone(sh.argv[1:]), "-c", script)...)
	cmd.Dir = dir
	env := []string{"LC_ALL=" + locale}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LC_ALL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		return stdout.Bytes(), fmt.Errorf("%s in %s: %v: stderr %q", sh.name, locale, err, truncate(stderr.String(), 300))
	}
	return stdout.Bytes(), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// maxScript keeps each -c script below Linux's limit of 128 KiB for one
// argument.
const maxScript = 100_000

// argsPerLine is how many strings one printf prints. printf repeats its
// format for each argument; a line per string would be as good a test but
// far slower in the shells where printf is not a builtin (csh, tcsh, mksh).
const argsPerLine = 25

// roundTrip quotes each string with sh's quoter, runs lines of
// `printf '%s\000' <quoted>...` in as few shell invocations as the
// argument size limit allows, and checks that the shell printed each
// string exactly. Strings the quoter refuses are counted; the error must
// be an encoding error.
func roundTrip(t testing.TB, sh shellSpec, locale string, strs []string) (refused int) {
	t.Helper()
	return roundTripWith(t, sh.name+"/"+locale, sh.quoter, func(script string) ([]byte, error) {
		return runShell(sh, locale, "", script)
	}, strs)
}

// roundTripWith is roundTrip with the shell run by run (which fails on a
// non-zero exit or any standard error output); name names the shell in
// messages.
func roundTripWith(t testing.TB, name string, q Quoter, run func(script string) ([]byte, error), strs []string) (refused int) {
	t.Helper()
	head, err := quoteArgs(q, false, []string{"printf", `%s\000`})
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	var script strings.Builder
	var batch []string
	var quoted []string
	flush := func() {
		if len(batch) == 0 {
			return
		}
		out, err := run(script.String())
		if err != nil {
			t.Errorf("%v (batch of %d strings)", err, len(batch))
			failures++
		}
		got := strings.Split(string(out), "\x00")
		if len(got) != len(batch)+1 || got[len(batch)] != "" {
			t.Errorf("%s: %d strings printed, want %d", name, len(got)-1, len(batch))
			failures++
		} else {
			for i, want := range batch {
				if got[i] != want && failures < 5 {
					failures++
					t.Errorf("%s misquoted\n input  %q\n quoted %q\n output %q", name, truncate(want, 120), truncate(quoted[i], 160), truncate(got[i], 120))
				}
			}
		}
		script.Reset()
		batch, quoted = batch[:0], quoted[:0]
	}
	for _, s := range strs {
		w, err := q.Quote(s)
		if err != nil {
			if !errors.Is(err, ErrEncoding) {
				t.Errorf("%s: Quote(%q): %v is not an encoding error", name, truncate(s, 60), err)
			}
			refused++
			continue
		}
		if script.Len()+len(head)+len(w)+2 > maxScript {
			flush()
		}
		if len(batch)%argsPerLine == 0 {
			if len(batch) > 0 {
				script.WriteByte('\n')
			}
			script.WriteString(head)
		}
		script.WriteByte(' ')
		script.WriteString(w)
		batch = append(batch, s)
		quoted = append(quoted, w)
		if failures >= 5 {
			t.Fatalf("too many failures")
		}
	}
	flush()
	return refused
}

// alphabets are the byte sets random strings are drawn from, after
// Net::OpenSSH's t/quoting.t plus the full byte range and shell syntax.
var alphabets = func() [][]byte {
	var nonWord, low, lowHigh, all []byte
	for c := 1; c <= 130; c++ {
		low = append(low, byte(c))
		if c >= 128 || !isWordByte(byte(c)) {
			nonWord = append(nonWord, byte(c))
		}
	}
	lowHigh = append(lowHigh, low...)
	for range 2 {
		for c := 141; c <= 172; c++ {
			lowHigh = append(lowHigh, byte(c))
		}
	}
	for c := 1; c <= 255; c++ {
		all = append(all, byte(c))
	}
	syntax := []byte(" \t\n\r'\"\\$`!*?[]{}~#&|;<>()%^=,:-@/.aZ9\x80\xa0\xc3\xe2\xef\xff")
	return [][]byte{nonWord, low, lowHigh, all, syntax}
}()

func randomString(r *rand.Rand, alphabet []byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// utf8Runes are mixed into valid UTF-8 strings: multibyte letters,
// line and paragraph separators, a BOM, NEL, and the private-use range
// U+F600-U+F6FF that fish uses internally for undecodable bytes.
var utf8Runes = []rune("aé€ 'ß\\\"$!\n\u0085\u2028\u2029\ufeff\uf600\uf680\uf6ff\U0001f600ñ日本")

func randomUTF8(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if r.IntN(3) == 0 {
			b.WriteRune(rune(0x20 + r.IntN(0x10000-0x20)))
		} else {
			b.WriteRune(utf8Runes[r.IntN(len(utf8Runes))])
		}
	}
	s := b.String()
	// Drop surrogates, which WriteRune turns into U+FFFD anyway.
	return strings.ToValidUTF8(s, "?")
}

// nastyStrings are known hard cases, among them t/quoting.t's.
var nastyStrings = []string{
	"\n", "'", "\x82'<~{", "''", "'''", `\`, `\\`, `\'`, `'\''`, "!", "!!", "\\!", "a!b", "!$", "\\\n", "\n\n",
	"-n", "-e", "--", "-", "%s", "%", "%%", "\\000", "~", "~root", "*", "?", "[a]", "{a,b}", "$(id)", "`id`",
	"$HOME", "${HOME}", "a\r\nb", "\r", "\t", " ", "  ", "\xff", "\x80", "\xc3", "\xc3\xa9", "\xef\x98\x80",
	"\xee\x98\x80", "\xef\xbf\xbd", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\x80", "\x83", "\x83\x83'\x83",
	"\x9b", "\x1b[31m", "\x7f", "\x01", "#", "a#b", "^", "^a^b", "=", "a=b", "a b=c", ";", "&", "|", "<", ">",
	"(", ")", "\"", `"'"`, "\\\"", "a\\\nb", "'\n'", "!\n!", "\\\\\n", "\xe2\x80\xa8", "\xc2\x85",
	"é'é", "\x82\x27", "\xa0", "\xe3\x81\x82'\xe3\x81", strings.Repeat("'", 40), strings.Repeat("\\", 41),
	"\xfd\xb1\x98\x8b\x9b\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf\xbf", "\xfc\x84\x80\x80\x80\x80", "\xf8\x88\x80\x80\x80",
	strings.Repeat("!", 30), strings.Repeat("\n", 30), strings.Repeat("\xff", 200), "\u00a0\u3000",
}

// randomStrings returns n random strings of 1 to 500 bytes from every
// alphabet, valid UTF-8 text among them, followed by the nasty cases.
func randomStrings(r *rand.Rand, n int) []string {
	strs := make([]string, 0, n+len(nastyStrings))
	for len(strs) < n {
		k := r.IntN(len(alphabets) + 1)
		size := 1 + r.IntN(500)
		if k == len(alphabets) {
			strs = append(strs, randomUTF8(r, size))
		} else {
			strs = append(strs, randomString(r, alphabets[k], size))
		}
	}
	return append(strs, nastyStrings...)
}

// testSeed returns the seed for random strings: GOOPENSSH_QUOTE_SEED when
// set, so that a failure can be replayed, and a new one on every run
// otherwise.
func testSeed(t *testing.T) uint64 {
	if s := os.Getenv("GOOPENSSH_QUOTE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GOOPENSSH_QUOTE_SEED: %v", err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestQuoteShellRoundTrip is t/quoting.t made stronger: for every shell,
// thousands of random strings (all bytes 1-255, several alphabets, valid
// UTF-8) and the known nasty cases, in a UTF-8 and in the C locale, must
// be printed back exactly by `printf '%s\000' <quoted>`. A string the
// quoter refuses must be refused with an encoding error; the count is
// logged. Replay a failure with GOOPENSSH_QUOTE_SEED=<seed>.
func TestQuoteShellRoundTrip(t *testing.T) {
	seed := testSeed(t)
	t.Logf("GOOPENSSH_QUOTE_SEED=%d", seed)
	n := 8000
	if testing.Short() {
		n = 500
	}
	for _, sh := range testShells {
		t.Run(sh.name, func(t *testing.T) {
			requireShell(t, sh)
			t.Parallel()
			for i, loc := range shellLocales {
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				strs := randomStrings(r, n)
				start := time.Now()
				refused := roundTrip(t, sh, loc, strs)
				t.Logf("%s %s: %d strings, %d refused, %v", sh.name, loc, len(strs), refused, time.Since(start).Round(time.Millisecond))
				if refused > 0 {
					t.Errorf("%s: %d strings refused; only NUL should be", sh.name, refused)
				}
			}
		})
	}
}

// TestQuoteGlobShell makes files with awkward names in a temporary
// directory and checks that patterns quoted with QuoteGlob match exactly
// the intended files in every shell.
func TestQuoteGlobShell(t *testing.T) {
	files := []string{
		"a b*c", "a b1c", "a bxc", "it's [x].txt", "it's y.txt", "q?.txt", "qa.txt",
		"dollar $HOME", `back\slash`, "new\nline", "wow!.txt", "semi;colon&amp", "caf\xc3\xa9 \xff",
		`"dq" 'sq'`, "%pct%",
	}
	tests := []struct {
		pattern   string
		want      []string
		needClass bool // uses [...]: not a wildcard in fish
		needQmark bool // uses ?: not a wildcard in fish 4
		nonASCII  bool // quoted non-ASCII next to a wildcard
	}{
		{pattern: "a b*", want: []string{"a b*c", "a b1c", "a bxc"}},
		{pattern: `a b\*c`, want: []string{"a b*c"}},
		{pattern: "a b?c", want: []string{"a b*c", "a b1c", "a bxc"}, needQmark: true},
		{pattern: "a b[0-9]c", want: []string{"a b1c"}, needClass: true},
		{pattern: "it's *.txt", want: []string{"it's [x].txt", "it's y.txt"}},
		{pattern: `it's \[x\].txt`, want: []string{"it's [x].txt"}},
		{pattern: `q\?.txt`, want: []string{"q?.txt"}},
		{pattern: "q?.txt", want: []string{"q?.txt", "qa.txt"}, needQmark: true},
		{pattern: "dollar $HOME*", want: []string{"dollar $HOME"}},
		{pattern: "dollar $HOME", want: []string{"dollar $HOME"}},
		{pattern: `back\\slash`, want: []string{`back\slash`}},
		{pattern: `back\sl*`, want: []string{`back\slash`}},
		{pattern: "new*line", want: []string{"new\nline"}},
		{pattern: "new\nl*", want: []string{"new\nline"}},
		{pattern: "wow!*", want: []string{"wow!.txt"}},
		{pattern: "semi;*&amp", want: []string{"semi;colon&amp"}},
		{pattern: "caf\xc3\xa9 *", want: []string{"caf\xc3\xa9 \xff"}, nonASCII: true},
		{pattern: "caf\xc3\xa9 \xff", want: []string{"caf\xc3\xa9 \xff"}},
		{pattern: `"dq" 'sq*`, want: []string{`"dq" 'sq'`}},
		{pattern: "%pct*", want: []string{"%pct%"}},
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(dir+"/"+f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, sh := range testShells {
		t.Run(sh.name, func(t *testing.T) {
			requireShell(t, sh)
			t.Parallel()
			for _, loc := range shellLocales {
				for _, tt := range tests {
					if sh.quoter == Fish && (tt.needClass || tt.needQmark) {
						continue
					}
					if sh.name == "tcsh" && loc != "C" && tt.nonASCII {
						// tcsh in a UTF-8 locale never matches a
						// quoted multibyte character in a pattern;
						// see globStyle in quote.go.
						continue
					}
					q, err := quoteArgs(sh.quoter, false, []string{"printf", `%s\000`})
					if err != nil {
						t.Fatal(err)
					}
					p, err := sh.quoter.QuoteGlob(tt.pattern)
					if err != nil {
						t.Errorf("QuoteGlob(%q): %v", tt.pattern, err)
						continue
					}
					out, err := runShell(sh, loc, dir, q+" "+p)
					if err != nil {
						t.Errorf("pattern %q quoted %q: %v", tt.pattern, p, err)
						continue
					}
					got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
					slices.Sort(got)
					if !slices.Equal(got, tt.want) {
						t.Errorf("%s/%s: pattern %q quoted %q matched %q, want %q", sh.name, loc, tt.pattern, p, got, tt.want)
					}
				}
			}
		})
	}
}

// TestQuoteGlobLiteralShell checks that QuoteGlob of a string with no
// wildcard and no backslash reads back as the string itself.
func TestQuoteGlobLiteralShell(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 99))
	var strs []string
	for len(strs) < 300 {
		s := randomString(r, alphabets[r.IntN(len(alphabets))], 1+r.IntN(200))
		b := []byte(s)
		for i, c := range b {
			if globBytes[c] || c == '\\' {
				b[i] = 'x'
			}
		}
		s = string(b)
		strs = append(strs, s)
	}
	for _, sh := range testShells {
		t.Run(sh.name, func(t *testing.T) {
			requireShell(t, sh)
			t.Parallel()
			globSh := sh
			globSh.quoter = globAsQuote{sh.quoter}
			roundTrip(t, globSh, "C.UTF-8", strs)
		})
	}
}

// globAsQuote presents a quoter's QuoteGlob as its Quote.
type globAsQuote struct{ Quoter }

func (g globAsQuote) Quote(s string) (string, error) {
	if s == "printf" || s == `%s\000` {
		return g.Quoter.Quote(s)
	}
	return g.Quoter.QuoteGlob(s)
}

package openssh

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// Fuzz targets that round-trip quoted strings through real shells. Their
// seed corpora are in testdata/fuzz/<FuzzName>/ and run with every
// `go test`; `make fuzz` (mk/fuzz.mk) fuzzes each for a minute.

// fuzzShells returns the usable shells among names. A missing shell is
// skipped, unless the CI environment variable is set, which makes it an
// error.
func fuzzShells(f *testing.F, names ...string) []shellSpec {
	f.Helper()
	var shells []shellSpec
	for _, name := range names {
		sh := shellByName(name)
		if err := shellUsable(sh); err != nil {
			if os.Getenv("CI") != "" {
				f.Fatalf("shell %s is required under CI: %v", name, err)
			}
			f.Logf("skipping shell %s: %v", name, err)
			continue
		}
		shells = append(shells, sh)
	}
	if len(shells) == 0 {
		f.Skip("none of the shells is installed")
	}
	return shells
}

// checkQuoteThroughShells quotes s with q and checks that every shell
// prints it back in both locales, or that q refused it with an encoding
// error because it holds a NUL byte.
func checkQuoteThroughShells(t *testing.T, q Quoter, shells []shellSpec, s string, glob bool) {
	var w string
	var err error
	if glob {
		w, err = q.QuoteGlob(s)
	} else {
		w, err = q.Quote(s)
	}
	if err != nil {
		if !errors.Is(err, ErrEncoding) || !strings.Contains(s, "\x00") {
			t.Fatalf("Quote(%q): unexpected error %v", s, err)
		}
		return
	}
	if strings.Contains(s, "\x00") {
		t.Fatalf("Quote(%q) accepted a NUL byte", s)
	}
	head, err := quoteArgs(q, false, []string{"printf", "%s"})
	if err != nil {
		t.Fatal(err)
	}
	want := s
	if glob {
		want = unescapeGlob(s)
	}
	for _, sh := range shells {
		for _, loc := range shellLocales {
			out, err := runShell(sh, loc, t.TempDir(), head+" "+w)
			if err != nil || string(out) != want {
				t.Fatalf("%s/%s: %q quoted %q printed %q, %v", sh.name, loc, s, w, out, err)
			}
		}
	}
}

// escapeGlob backslash-escapes every wildcard and backslash of s, giving a
// pattern that matches s literally.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if globBytes[s[i]] || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeGlob undoes escapeGlob.
func unescapeGlob(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func FuzzQuotePOSIX(f *testing.F) {
	shells := fuzzShells(f, "dash", "bash", "zsh", "mksh", "ksh", "busybox-ash")
	f.Add("it's")
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoteThroughShells(t, POSIX, shells, s, false)
	})
}

func FuzzQuoteCsh(f *testing.F) {
	shells := fuzzShells(f, "csh", "tcsh")
	f.Add("a!b\n")
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoteThroughShells(t, Csh, shells, s, false)
	})
}

func FuzzQuoteFish(f *testing.F) {
	shells := fuzzShells(f, "fish")
	f.Add(`it\'s`)
	f.Fuzz(func(t *testing.T, s string) {
		checkQuoteThroughShells(t, Fish, shells, s, false)
	})
}

// FuzzQuoteGlobEscaped checks QuoteGlob on patterns whose wildcards are
// all escaped: each shell must print the literal string back.
func FuzzQuoteGlobEscaped(f *testing.F) {
	posix := fuzzShells(f, "dash", "bash", "zsh", "mksh", "ksh", "busybox-ash")
	csh := fuzzShells(f, "csh", "tcsh")
	fish := fuzzShells(f, "fish")
	f.Add("*a b?[c]{d,e}~!^:\\")
	f.Fuzz(func(t *testing.T, s string) {
		p := escapeGlob(s)
		checkQuoteThroughShells(t, POSIX, posix, p, true)
		checkQuoteThroughShells(t, Csh, csh, p, true)
		checkQuoteThroughShells(t, Fish, fish, p, true)
	})
}

func FuzzQuoteMSWin(f *testing.F) {
	f.Add("a b", `C:\Program Files\x\`, `"\\"`)
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		if strings.Contains(a+b+c, "\x00") {
			if _, err := quoteArgs(MSWin, false, args); !errors.Is(err, ErrEncoding) {
				t.Fatalf("NUL accepted: %v", err)
			}
			return
		}
		checkMSWin(t, args)
	})
}

func FuzzQuoteMSCmd(f *testing.F) {
	f.Add("a & b", `x"y z`, "100%")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		if strings.ContainsAny(a+b+c, "\x00\r\n") {
			if _, err := quoteArgs(MSCmd, false, args); !errors.Is(err, ErrEncoding) {
				t.Fatalf("NUL or newline accepted: %v", err)
			}
			return
		}
		for _, s := range args {
			checkMSCmd(t, s)
		}
		checkMSCmdMSWin(t, args)
	})
}

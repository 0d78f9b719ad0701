package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goopenssh/openssh"
)

var update = flag.Bool("update", false, "rewrite the golden help files in testdata")

// Every command's --help exits 0 and prints testdata/help-<command>.txt
// (go test -run TestHelp -update rewrites them).
func TestHelp(t *testing.T) {
	cases := map[string][][]string{
		"ossh": {{"--help"}, {"-h"}, {"help"}},
		"run":  {{"run", "--help"}, {"run", "-h"}, {"help", "run"}, {"run", "-H", "x", "--help", "--", "true"}},
		"put":  {{"put", "--help"}, {"help", "put"}},
		"get":  {{"get", "--help"}, {"help", "get"}},
		"demo": {{"demo", "--help"}, {"help", "demo"}},
	}
	for name, calls := range cases {
		golden := filepath.Join("testdata", "help-"+name+".txt")
		for i, args := range calls {
			out, errs, code := ossh(t, args...)
			if code != 0 || errs != "" {
				t.Errorf("%q: exit %d, stderr %q", args, code, errs)
			}
			if i == 0 && *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("%q: help differs from %s:\n%s", args, golden, out)
			}
		}
	}
	// Every flag of every command has a line of help, and no line is
	// wider than 100 columns.
	for _, sub := range []string{"run", "put", "get"} {
		text := helpText(sub, newFlags(sub, &config{}))
		for _, l := range strings.Split(text, "\n") {
			if len(l) > 100 {
				t.Errorf("%s: long help line %q", sub, l)
			}
			if strings.HasPrefix(strings.TrimSpace(l), "-") && !regexp.MustCompile(`--\S+( \S+)?  +\S`).MatchString(l) {
				t.Errorf("%s: flag without help: %q", sub, l)
			}
		}
	}
	// A command after the flags keeps its own -h.
	if c, err := parseFlags("run", []string{"-H", "x", "ls", "-h"}); err != nil || strings.Join(c.args, " ") != "ls -h" {
		t.Errorf("run -H x ls -h: %v %v", c, err)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-V", "version"} {
		out, errs, code := ossh(t, arg)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "ossh "+openssh.Version+" ") ||
			!regexp.MustCompile(`\nssh: OpenSSH_\d+\.\d+\S* .*\(/\S+/ssh\)\n$`).MatchString(out) {
			t.Errorf("%s: exit %d\n%s%s", arg, code, out, errs)
		}
	}
	var b bytes.Buffer
	t.Setenv("PATH", t.TempDir())
	printVersion(&b)
	if !strings.HasSuffix(b.String(), "\nssh: not found in PATH\n") {
		t.Errorf("without ssh: %q", b.String())
	}
}

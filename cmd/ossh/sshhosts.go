package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// sshConfigHosts returns the host aliases of an ssh config file (the
// names of its Host lines without wildcards or negations, following its
// Include directives) that match pattern: glob patterns separated by
// commas. Match blocks are not evaluated.
func sshConfigHosts(file, pattern string) ([]string, error) {
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		file = filepath.Join(home, ".ssh", "config")
	}
	var names []string
	seen := map[string]bool{}
	if err := readHostLines(file, 0, func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}); err != nil {
		return nil, err
	}
	pats := strings.Split(pattern, ",")
	for _, p := range pats {
		if _, err := path.Match(strings.TrimSpace(p), ""); err != nil {
			return nil, fmt.Errorf("--ssh-hosts %q: %v", pattern, err)
		}
	}
	var out []string
	for _, n := range names {
		for _, p := range pats {
			if ok, _ := path.Match(strings.TrimSpace(p), n); ok {
				out = append(out, n)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--ssh-hosts %q: no Host alias of %s matches", pattern, file)
	}
	return out, nil
}

// readHostLines calls add with every plain name of the Host lines of file
// and of the files it includes.
func readHostLines(file string, depth int, add func(string)) error {
	if depth > 16 {
		return fmt.Errorf("%s: Include nested too deeply", file)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kw, args := splitConfigLine(sc.Text())
		switch kw {
		case "host":
			for _, n := range args {
				if !strings.ContainsAny(n, "*?!") {
					add(n)
				}
			}
		case "include":
			for _, pat := range args {
				if !filepath.IsAbs(pat) && !strings.HasPrefix(pat, "~") {
					// Relative to ~/.ssh for a user's config, as ssh has
					// it; the including file's directory is the best
					// guess here.
					pat = filepath.Join(filepath.Dir(file), pat)
				} else if strings.HasPrefix(pat, "~/") {
					home, _ := os.UserHomeDir()
					pat = filepath.Join(home, pat[2:])
				}
				matches, _ := filepath.Glob(pat)
				for _, m := range matches {
					if err := readHostLines(m, depth+1, add); err != nil {
						return err
					}
				}
			}
		}
	}
	return sc.Err()
}

// splitConfigLine returns the keyword (lower case) and the arguments of an
// ssh_config line ("Keyword args", "Keyword=args"; quotes removed).
func splitConfigLine(line string) (string, []string) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return strings.ToLower(line), nil
	}
	kw := strings.ToLower(line[:i])
	rest := strings.TrimLeft(line[i:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
	var args []string
	for _, a := range strings.Fields(rest) {
		args = append(args, strings.Trim(a, `"`))
	}
	return kw, args
}

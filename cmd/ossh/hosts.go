package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/goopenssh/openssh"
)

// hostSpec is a host of a run: the target as given and its label.
type hostSpec struct {
	target string
	label  string
}

// readHosts reads a hosts file: one target per line, the first field;
// blank lines and # comments are skipped.
func readHosts(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l, _, _ := strings.Cut(sc.Text(), "#")
		if fs := strings.Fields(l); len(fs) > 0 {
			hs = append(hs, fs[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hosts file %s: %w", name, err)
	}
	return hs, nil
}

// entry is a host from a source, with its label when the source names
// one (inventories, ssh config aliases).
type entry struct{ target, label string }

// gatherHosts gathers the hosts of -H, -f, --inventory and --ssh-hosts in
// that order, each once (by target: a host listed again is reported on
// warn and dropped), and labels them.
func (c *config) gatherHosts(warn io.Writer) ([]hostSpec, error) {
	var all []entry
	for _, h := range c.hostArgs {
		for _, t := range strings.Fields(h) {
			all = append(all, entry{target: t})
		}
	}
	for _, f := range c.hostFiles {
		hs, err := readHosts(f)
		if err != nil {
			return nil, err
		}
		for _, t := range hs {
			all = append(all, entry{target: t})
		}
	}
	if c.inventory != "" {
		inv, err := readInventory(c.inventory)
		if err != nil {
			return nil, err
		}
		hs, err := inv.selectHosts(c.limit)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			all = append(all, entry{target: h.target(), label: h.name})
		}
	}
	if c.sshHosts != "" {
		hs, err := sshConfigHosts(c.sshConfig, c.sshHosts)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			all = append(all, entry{target: h, label: h})
		}
	}
	seen := map[string]int{}
	var out []entry
	for _, e := range all {
		seen[e.target]++
		switch seen[e.target] {
		case 1:
			out = append(out, e)
		case 2:
			fmt.Fprintf(warn, "ossh: host %s is listed more than once: it runs once\n", e.target)
		}
	}
	var plain []string
	for _, e := range out {
		if e.label == "" {
			plain = append(plain, e.target)
		}
	}
	specs, err := labelHosts(plain)
	if err != nil {
		return nil, err
	}
	hosts := make([]hostSpec, 0, len(out))
	for _, e := range out {
		if e.label == "" {
			hosts, specs = append(hosts, specs[0]), specs[1:]
		} else {
			hosts = append(hosts, hostSpec(e))
		}
	}
	return hosts, nil
}

// labelHosts gives each target its label: the target without password and
// port ([user@]host), or the whole target without password when another
// target has the same user and host.
func labelHosts(targets []string) ([]hostSpec, error) {
	parsed := make([]openssh.Target, len(targets))
	count := map[string]int{}
	for i, t := range targets {
		p, err := openssh.ParseTarget(t)
		if err != nil {
			return nil, err
		}
		parsed[i] = p
		count[baseLabel(p)]++
	}
	specs := make([]hostSpec, len(targets))
	for i, p := range parsed {
		l := baseLabel(p)
		if count[l] > 1 {
			l = withoutPassword(strings.TrimSpace(targets[i]))
		}
		specs[i] = hostSpec{target: targets[i], label: l}
	}
	return specs, nil
}

// withoutPassword drops the password of "user:password@host".
func withoutPassword(target string) string {
	at := strings.LastIndexByte(target, '@')
	if c := strings.IndexByte(target, ':'); c >= 0 && c < at {
		return target[:c] + target[at:]
	}
	return target
}

func baseLabel(p openssh.Target) string {
	if p.User != "" {
		return p.User + "@" + p.Host
	}
	return p.Host
}

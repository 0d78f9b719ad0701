package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
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

// collectHosts gathers the hosts of -H and -f in order, each once: a host
// listed again is reported on warn and dropped.
func collectHosts(hostArgs, files []string, warn io.Writer) ([]string, error) {
	var all []string
	for _, h := range hostArgs {
		all = append(all, strings.Fields(h)...)
	}
	for _, f := range files {
		hs, err := readHosts(f)
		if err != nil {
			return nil, err
		}
		all = append(all, hs...)
	}
	seen := map[string]int{}
	var out []string
	for _, h := range all {
		seen[h]++
		switch seen[h] {
		case 1:
			out = append(out, h)
		case 2:
			fmt.Fprintf(warn, "ossh: host %s is listed more than once: it runs once\n", h)
		}
	}
	return out, nil
}

// labelHosts gives each target its label: the target without password and
// port ([user@]host), or with the port when another target has the same
// user and host on another port.
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
			port := p.Port
			if port == 0 {
				port = 22
			}
			l = p.HostSquared() + ":" + strconv.Itoa(port)
			if p.User != "" {
				l = p.User + "@" + l
			}
		}
		specs[i] = hostSpec{target: targets[i], label: l}
	}
	return specs, nil
}

func baseLabel(p openssh.Target) string {
	if p.User != "" {
		return p.User + "@" + p.Host
	}
	return p.Host
}

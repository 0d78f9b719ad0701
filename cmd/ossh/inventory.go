package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// invHost is a host of an Ansible inventory.
type invHost struct {
	name       string // the inventory name: the label
	host, user string // ansible_host, ansible_user
	port       int    // ansible_port
}

// target is the ssh target of an inventory host.
func (h invHost) target() string {
	t := h.host
	if t == "" {
		t = h.name
	}
	if strings.Contains(t, ":") && h.port != 0 {
		t = "[" + t + "]" // IPv6
	}
	if h.port != 0 {
		t += ":" + strconv.Itoa(h.port)
	}
	if h.user != "" {
		t = h.user + "@" + t
	}
	return t
}

// inventory is an Ansible INI inventory: hosts and groups.
type inventory struct {
	hosts    []*invHost          // in order of first mention
	byName   map[string]*invHost //
	groups   map[string][]string // group -> host names
	children map[string][]string // group -> child groups
	order    []string            // group names in order
}

// readInventory parses an Ansible INI inventory: hosts before any section
// (group "ungrouped"), [group] sections of hosts with variables
// (ansible_host, ansible_port, ansible_user; ansible_ssh_host,
// ansible_ssh_port and ansible_ssh_user too; others are ignored),
// [group:children] sections and numeric or alphabetic ranges such as
// web[01:20].example.com. [group:vars] sections are skipped: ossh uses no
// variables of groups.
func readInventory(name string) (*inventory, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	inv := &inventory{byName: map[string]*invHost{}, groups: map[string][]string{}, children: map[string][]string{}}
	group, kind := "ungrouped", ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("inventory %s:%d: %s", name, n, fmt.Sprintf(format, args...))
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, bad("unterminated section %q", line)
			}
			group, kind, _ = strings.Cut(line[1:len(line)-1], ":")
			if group == "" || kind != "" && kind != "children" && kind != "vars" {
				return nil, bad("bad section %q", line)
			}
			inv.addGroup(group)
			continue
		}
		switch kind {
		case "vars":
			continue
		case "children":
			inv.children[group] = append(inv.children[group], strings.Fields(line)[0])
			continue
		}
		fields := strings.Fields(stripComment(line))
		names, err := expandRange(fields[0])
		if err != nil {
			return nil, bad("%v", err)
		}
		var tmpl invHost
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, bad("%q is not name=value", kv)
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ansible_host", "ansible_ssh_host":
				tmpl.host = v
			case "ansible_user", "ansible_ssh_user":
				tmpl.user = v
			case "ansible_port", "ansible_ssh_port":
				p, err := strconv.Atoi(v)
				if err != nil || p < 1 || p > 65535 {
					return nil, bad("bad port %q", v)
				}
				tmpl.port = p
			}
		}
		for _, hn := range names {
			inv.addHost(group, hn, tmpl)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("inventory %s: %w", name, err)
	}
	for g, cs := range inv.children {
		for _, c := range cs {
			if _, ok := inv.groups[c]; !ok {
				return nil, fmt.Errorf("inventory %s: group %s has an unknown child group %s", name, g, c)
			}
		}
	}
	return inv, nil
}

// stripComment drops a " #..." comment after a host line.
func stripComment(line string) string {
	if i := strings.Index(line, " #"); i >= 0 {
		return line[:i]
	}
	return line
}

func (inv *inventory) addGroup(g string) {
	if _, ok := inv.groups[g]; !ok {
		inv.groups[g] = nil
		inv.order = append(inv.order, g)
	}
}

// addHost adds a host to a group; variables given again for a host
// already seen override the earlier ones.
func (inv *inventory) addHost(group, name string, vars invHost) {
	inv.addGroup(group)
	h := inv.byName[name]
	if h == nil {
		h = &invHost{name: name}
		inv.byName[name] = h
		inv.hosts = append(inv.hosts, h)
	}
	if vars.host != "" {
		h.host = vars.host
	}
	if vars.user != "" {
		h.user = vars.user
	}
	if vars.port != 0 {
		h.port = vars.port
	}
	inv.groups[group] = append(inv.groups[group], name)
}

// members returns the host names of a group and its children.
func (inv *inventory) members(g string, seen map[string]bool, out map[string]bool) {
	if seen[g] {
		return
	}
	seen[g] = true
	for _, h := range inv.groups[g] {
		out[h] = true
	}
	for _, c := range inv.children[g] {
		inv.members(c, seen, out)
	}
}

// selectHosts returns the hosts a pattern selects, in inventory order. The
// pattern is Ansible's, simplified: names of groups or hosts, * wildcards,
// separated by commas or colons; "all" (or "*") is every host; a "!"
// before a name excludes it, "&" keeps only the hosts also in it.
func (inv *inventory) selectHosts(pattern string) ([]*invHost, error) {
	if pattern == "" {
		pattern = "all"
	}
	in := map[string]bool{}
	var and []map[string]bool
	var not []map[string]bool
	for _, p := range strings.FieldsFunc(pattern, func(r rune) bool { return r == ',' || r == ':' }) {
		op := byte(0)
		if p[0] == '!' || p[0] == '&' {
			op, p = p[0], p[1:]
		}
		set := map[string]bool{}
		matched := false
		if p == "all" || p == "*" {
			for _, h := range inv.hosts {
				set[h.name] = true
			}
			matched = true
		}
		for _, g := range inv.order {
			if ok, _ := path.Match(p, g); ok {
				inv.members(g, map[string]bool{}, set)
				matched = true
			}
		}
		for _, h := range inv.hosts {
			if ok, _ := path.Match(p, h.name); ok {
				set[h.name] = true
				matched = true
			}
		}
		if !matched {
			return nil, fmt.Errorf("--limit: %q matches no group or host of the inventory", p)
		}
		switch op {
		case '!':
			not = append(not, set)
		case '&':
			and = append(and, set)
		default:
			for h := range set {
				in[h] = true
			}
		}
	}
	var out []*invHost
next:
	for _, h := range inv.hosts {
		if !in[h.name] {
			continue
		}
		for _, s := range and {
			if !s[h.name] {
				continue next
			}
		}
		for _, s := range not {
			if s[h.name] {
				continue next
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// expandRange expands one Ansible host range, "web[01:03].x" (numbers,
// zero-padded as written, with an optional :step) or "db-[a:c]".
func expandRange(s string) ([]string, error) {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		return []string{s}, nil
	}
	j := strings.IndexByte(s[i:], ']')
	if j < 0 {
		return nil, fmt.Errorf("unterminated range in %q", s)
	}
	j += i
	parts := strings.Split(s[i+1:j], ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("bad range in %q: want [start:end] or [start:end:step]", s)
	}
	step := 1
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad range step in %q", s)
		}
		step = n
	}
	rest, err := expandRange(s[j+1:])
	if err != nil {
		return nil, err
	}
	var items []string
	a, errA := strconv.Atoi(parts[0])
	b, errB := strconv.Atoi(parts[1])
	switch {
	case errA == nil && errB == nil:
		if b < a || (b-a)/step > 100000 {
			return nil, fmt.Errorf("bad range in %q", s)
		}
		w := 0
		if len(parts[0]) > 1 && parts[0][0] == '0' {
			w = len(parts[0])
		}
		for n := a; n <= b; n += step {
			items = append(items, fmt.Sprintf("%0*d", w, n))
		}
	case len(parts[0]) == 1 && len(parts[1]) == 1 && parts[0] <= parts[1]:
		for c := parts[0][0]; c <= parts[1][0]; c += byte(step) {
			items = append(items, string(c))
			if int(c)+step > 255 {
				break
			}
		}
	default:
		return nil, fmt.Errorf("bad range in %q", s)
	}
	var out []string
	for _, it := range items {
		for _, r := range rest {
			out = append(out, s[:i]+it+r)
		}
	}
	return out, nil
}

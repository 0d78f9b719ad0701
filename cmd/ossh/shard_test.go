package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Every host falls in exactly one shard, the shards are about even, and a
// host's shard does not depend on the rest of the list.
func TestShardPartition(t *testing.T) {
	var hosts []hostSpec
	for i := range 10000 {
		h := fmt.Sprintf("node-%05d.dc%d.example.com", i, i%3)
		hosts = append(hosts, hostSpec{target: h, label: h})
	}
	for _, n := range []int{1, 2, 3, 7, 16} {
		seen := map[string]int{}
		for k := range n {
			s, err := parseShard(fmt.Sprintf("%d/%d", k, n))
			if err != nil {
				t.Fatal(err)
			}
			part := s.filter(hosts)
			if mean := len(hosts) / n; len(part) < mean*8/10 || len(part) > mean*12/10 {
				t.Errorf("%d/%d: %d hosts, mean %d", k, n, len(part), mean)
			}
			for _, h := range part {
				seen[h.target]++
			}
			// The same hosts in another order, some others gone: the
			// shard's own hosts stay in it.
			rev := append([]hostSpec(nil), hosts[:5000]...)
			sort.Slice(rev, func(i, j int) bool { return rev[i].target > rev[j].target })
			for _, h := range s.filter(rev) {
				if !s.has(h.target) || !strings.HasPrefix(h.target, "node-") {
					t.Fatalf("%s moved", h.target)
				}
			}
			if len(s.filter(rev)) != len(s.filter(hosts[:5000])) {
				t.Errorf("%d/%d: order changes the shard", k, n)
			}
		}
		for _, h := range hosts {
			if seen[h.target] != 1 {
				t.Fatalf("N=%d: %s is in %d shards", n, h.target, seen[h.target])
			}
		}
	}
	for _, bad := range []string{"", "1", "2/2", "-1/2", "0/0", "a/b", "1/2/3"} {
		if _, err := parseShard(bad); err == nil {
			t.Errorf("--shard %q accepted", bad)
		}
	}
}

// Two ossh processes, one per shard, run every host once; their NDJSON
// outputs, concatenated, hold one line per host.
func TestShardRunAndMerge(t *testing.T) {
	srv, hosts := sandbox(t)
	all := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}
	var listed []string
	var merged strings.Builder
	for k := range 2 {
		shard := fmt.Sprintf("%d/2", k)
		out, errs, code := ossh(t, "run", "--shard", shard, "--list-hosts", "-H", "127.0.0.2 127.0.0.3", "-f", hosts, "true")
		if code != 0 {
			t.Fatalf("--list-hosts: exit %d %s", code, errs)
		}
		mine := strings.Fields(out)
		listed = append(listed, mine...)
		out, errs, code = ossh(t, "run", "--shard", shard, "--json", "-F", srv.SSHConfig, "-H", "127.0.0.2 127.0.0.3", "-f", hosts, "--", "echo %LABEL%")
		want := exitOK
		for _, h := range mine {
			if h == "127.0.0.5" {
				want = exitUnreachable
			}
		}
		if code != want {
			t.Errorf("shard %s (%q): exit %d, want %d\n%s%s", shard, mine, code, want, out, errs)
		}
		if n := strings.Count(out, "\n"); n != len(mine) {
			t.Errorf("shard %s: %d lines for %d hosts:\n%s", shard, n, len(mine), out)
		}
		merged.WriteString(out)
	}
	sort.Strings(listed)
	if strings.Join(listed, " ") != strings.Join(all, " ") {
		t.Errorf("the shards list %q, want %q", listed, all)
	}
	rs := parseNDJSON(t, merged.String())
	for _, h := range all {
		r, ok := rs[h]
		switch {
		case !ok:
			t.Errorf("%s missing from the merged results", h)
		case h == "127.0.0.5" && r.Status != "unreachable", h != "127.0.0.5" && (r.Status != "ok" || r.Stdout != h+"\n"):
			t.Errorf("%s: %+v", h, r)
		}
	}
	if len(rs) != len(all) {
		t.Errorf("%d results", len(rs))
	}
}

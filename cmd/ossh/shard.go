package main

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// shard is a --shard K/N: the K-th (from 0) of N slices of the host list.
type shard struct{ k, n int }

// parseShard parses "K/N", 0 <= K < N.
func parseShard(s string) (shard, error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return shard{}, fmt.Errorf("--shard %q: want K/N, such as 0/4", s)
	case n < 1 || k < 0 || k >= n:
		return shard{}, fmt.Errorf("--shard %q: want 0 <= K < N (K counts from 0, as JOB_COMPLETION_INDEX)", s)
	}
	return shard{k, n}, nil
}

// has reports whether the host belongs to the shard. The slice of a host
// depends on its target alone (an FNV-1a hash), so it stays the same when
// the list is reordered or other hosts come and go, and every ossh of a
// sharded run agrees without talking to the others.
func (s shard) has(target string) bool {
	if s.n <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(target))
	return h.Sum64()%uint64(s.n) == uint64(s.k)
}

// filter returns the hosts of the shard, in order.
func (s shard) filter(hosts []hostSpec) []hostSpec {
	var out []hostSpec
	for _, h := range hosts {
		if s.has(h.target) {
			out = append(out, h)
		}
	}
	return out
}

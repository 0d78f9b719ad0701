#!/bin/sh
# compare.sh runs the benchmarks of this directory and prints, for each, the
# median of the raw ssh -S baseline and of the library measured in the same
# run, and their ratio against the target.
#
#   bench/compare.sh [count]      (default count: 5)
#
# Latency: System("true") vs the same ssh -S argv run by hand, 200 commands
# per measurement (LATENCY_N). Throughput: 1 GiB through PipeOut vs reading
# the stdout pipe of ssh -S, one stream per measurement.
set -eu
cd "$(dirname "$0")"
count=${1:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
	go test -run '^$' -bench SystemTrue -benchtime "${LATENCY_N:-200}x" -count "$count" .
	go test -run '^$' -bench PipeOut1GiB -benchtime 1x -count "$count" .
} | tee "$out" >&2
# Lines: BenchmarkName/raw-2  N  123 ns/op  [456 MB/s]
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	split(name, p, "/"); base = p[1]; kind = p[2]
	for (i = 3; i <= NF; i++) {
		if ($(i) == "ns/op") ns[base, kind, ++nns[base, kind]] = $(i-1)
		if ($(i) == "MB/s") mb[base, kind, ++nmb[base, kind]] = $(i-1)
	}
	bases[base] = 1
}
function median(arr, b, k, n,    i, j, t, v) {
	for (i = 1; i <= n; i++) v[i] = arr[b, k, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	if (n % 2) return v[(n + 1) / 2]
	return (v[n / 2] + v[n / 2 + 1]) / 2
}
END {
	printf "%-22s %-10s %14s %14s %8s %s\n", "benchmark", "metric", "raw ssh -S", "library", "ratio", "target"
	for (b in bases) {
		if (nmb[b, "raw"] > 0) {
			r = median(mb, b, "raw", nmb[b, "raw"]); l = median(mb, b, "lib", nmb[b, "lib"])
			printf "%-22s %-10s %14.1f %14.1f %8.3f %s\n", b, "MB/s", r, l, l / r, ">= 0.95"
		} else {
			r = median(ns, b, "raw", nns[b, "raw"]); l = median(ns, b, "lib", nns[b, "lib"])
			printf "%-22s %-10s %14.0f %14.0f %8.3f %s\n", b, "ns/op", r, l, l / r, "<= 1.05"
		}
	}
}' "$out"

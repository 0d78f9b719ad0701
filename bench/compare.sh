#!/bin/sh
# compare.sh runs the transport benchmarks of this directory for several
# rounds and prints the median of every implementation, then the ratios
# against the targets.
#
#   bench/compare.sh [rounds]      (default rounds: 5)
#
# Implementations, all on one private sshd (see mux_test.go):
#   native   Master with Transport: TransportMux
#   process  Master with Transport: TransportProcess (the default)
#   raw      the process transport's ssh -S argv started by hand
#   xcrypto  golang.org/x/crypto/ssh, one client, a session per command
#   muxraw   internal/mux used directly (no library around it)
#
# Benchmarks (per round; override the counts with the variables):
#   TrueSeq     remote `true`, one at a time       LATENCY_N commands each (100)
#   TruePar8    `true`, 8 goroutines back-to-back  PAR_N blocks of 40 each (5)
#   Check       Master.Check                       CHECK_N checks each (200)
#   Stream1GiB  1 GiB of stdout read in Go         one stream each
#               (PipeOut into io.Copy; and Cmd.Stdout an io.Writer:
#               nativew, processw)
#   SFTPGet     256 MiB file downloaded            SFTP_N files each (2)
#   SFTPPut     256 MiB file uploaded              SFTP_N files each (2)
#   Capture     256 MiB captured in a fresh        CAPTURE_N captures each (2)
#               process (throughput, peak RSS)
# Both transports run over one master process, and so do the baselines.
# The SFTP rows add sftpb (OpenSSH's sftp -b over that master) and
# the Capture row perl (Net::OpenSSH's capture over the same master, when
# libnet-openssh-perl is installed); raw there is ssh -S into /dev/null.
# Inside a benchmark the implementations alternate operation by operation
# (block by block for TruePar8, stream by stream for Stream1GiB) in an
# order that rotates, so they share the load of the moment. The rows
# SystemTrue and PipeOut1GiB of the earlier version of this script (the
# library on its default transport against raw ssh -S) are the process
# and raw columns of TrueSeq and Stream1GiB.
set -eu
cd "$(dirname "$0")"
rounds=${1:-5}
out=$(mktemp)
go test -c -o "$out.bin" .
trap 'rm -f "$out" "$out.bin"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	echo "# round $((i + 1)) of $rounds"
	for spec in "TrueSeq ${LATENCY_N:-100}x" "TruePar8 ${PAR_N:-5}x" \
		"Check ${CHECK_N:-200}x" "Stream1GiB 1x" "SFTPGet ${SFTP_N:-2}x" \
		"SFTPPut ${SFTP_N:-2}x" "Capture ${CAPTURE_N:-2}x"; do
		set -- $spec
		BENCH_ROUND=$i "$out.bin" -test.run '^$' -test.bench "^Benchmark$1\$" \
			-test.benchtime "$2" -test.timeout 30m | grep '^Benchmark'
	done
	i=$((i + 1))
done | tee "$out" >&2
# Lines: BenchmarkTrueSeq-2  100  123 ns/op  456 native-ns/op  789 raw-ns/op ...
# Stream1GiB also gives <impl>-cpums/GiB: the CPU time of the local side
# (this process, the masters, ssh -S) per GiB, shown as the row StreamCPU
# (SFTPGetCPU and SFTPPutCPU for the SFTP rows, which also give
# <impl>-machms/GiB: the whole machine's CPU, sshd and the sftp server
# included, per GiB, rows SFTPGetMach and SFTPPutMach); Capture gives <impl>-MiB,
# the peak RSS of the capturing process (row CaptureRSS).
awk -v rounds="$rounds" -v capmib="${BENCH_CAPTURE_MIB:-256}" '
/^Benchmark/ {
	b0 = $1; sub(/^Benchmark/, "", b0); sub(/-[0-9]+$/, "", b0)
	for (i = 3; i < NF; i++) {
		u = $(i + 1)
		if (u !~ /^[a-z]+-(ns\/op|MB\/s|cpums\/GiB|machms\/GiB|MiB)$/) continue
		im = u; sub(/-.*/, "", im)
		sub(/^[a-z]+-/, "", u)
		b = b0
		if (u == "cpums/GiB") b = (b0 == "Stream1GiB" ? "StreamCPU" : b0 "CPU")
		if (u == "machms/GiB") b = b0 "Mach"
		if (u == "MiB") b = b0 "RSS"
		unit[b] = u
		v[b, im, ++n[b, im]] = $(i)
	}
}
function sort(a, c,    k, j, t) {
	for (k = 1; k <= c; k++) for (j = k + 1; j <= c; j++) if (a[j] < a[k]) { t = a[k]; a[k] = a[j]; a[j] = t }
}
function mid(a, c) {
	if (c % 2) return a[(c + 1) / 2]
	return (a[c / 2] + a[c / 2 + 1]) / 2
}
function median(b, im,    k, a, c) {
	c = n[b, im]
	if (c == 0) return -1
	for (k = 1; k <= c; k++) a[k] = v[b, im, k] + 0
	sort(a, c)
	return mid(a, c)
}
# rmedian is the median over the rounds of the ratio x/y within a round.
function rmedian(b, x, y,    k, a, c) {
	c = n[b, x] < n[b, y] ? n[b, x] : n[b, y]
	if (c == 0) return -1
	for (k = 1; k <= c; k++) a[k] = v[b, y, k] > 0 ? v[b, x, k] / v[b, y, k] : 0
	sort(a, c)
	return mid(a, c)
}
# cell formats a median: ms for ns/op; MB/s and ms/GiB as they are.
function cell(b, im,    m) {
	m = median(b, im)
	if (m < 0) return sprintf("%10s", "-")
	if (unit[b] == "ns/op") return sprintf("%10.3f", m / 1e6)
	return sprintf("%10.1f", m)
}
function met(x, op, t) {
	if (x < 0) return "n/a"
	if (op == "<=") return x <= t ? "yes" : "NO"
	if (op == ">=") return x >= t ? "yes" : "NO"
	return x < t ? "yes" : "NO"
}
function head() {
	printf "%-12s %-38s %9s %9s %9s %5s\n", "benchmark", "ratio", "of medns", "per round", "target", "met"
}
# ratio prints one row: the ratio x/y of the two medians (of times, or of
# throughputs for MB/s), the median of the per-round ratios, and the
# verdict of the first against "op t" (none when op is empty).
function ratio(label, b, x, y, op, t,    mx, my, r) {
	if (!(b in unit)) return
	mx = median(b, x); my = median(b, y)
	r = (mx > 0 && my > 0) ? mx / my : -1
	printf "%-12s %-38s %9.3f %9.3f %9s %5s\n", b, label, r, rmedian(b, x, y), (op == "" ? "-" : op " " t), (op == "" ? "-" : met(r, op, t))
}
END {
	split("TrueSeq TruePar8 Check Stream1GiB StreamCPU", bs, " ")
	split("native process raw xcrypto muxraw", ims, " ")
	printf "\nMedians over %d rounds (ms per command; MB/s; local CPU ms per GiB)\n", rounds
	printf "%-12s %-6s", "benchmark", "unit"
	for (k = 1; k <= 5; k++) printf " %10s", ims[k]
	printf "\n"
	for (j = 1; j <= 5; j++) {
		b = bs[j]
		if (!(b in unit)) continue
		printf "%-12s %-6s", b, unit[b] == "ns/op" ? "ms" : unit[b] == "MB/s" ? "MB/s" : "ms/GiB"
		for (k = 1; k <= 5; k++) printf " %s", cell(b, ims[k])
		printf "\n"
	}
	split("SFTPGet SFTPGetCPU SFTPGetMach SFTPPut SFTPPutCPU SFTPPutMach Capture CaptureRSS", bs2, " ")
	split("native process sftpb perl raw", ims2, " ")
	printf "\n%-12s %-6s", "benchmark", "unit"
	for (k = 1; k <= 5; k++) printf " %10s", ims2[k]
	printf "\n"
	for (j = 1; j <= 8; j++) {
		b = bs2[j]
		if (!(b in unit)) continue
		printf "%-12s %-6s", b, unit[b] == "MB/s" ? "MB/s" : unit[b] == "MiB" ? "MiB" : "ms/GiB"
		for (k = 1; k <= 5; k++) printf " %s", cell(b, ims2[k])
		printf "\n"
	}
	printf "\nRatios against the targets (of medns: ratio of the medians, which the\n"
	printf "verdict uses; per round: median of the ratios within each round)\n"
	head()
	for (j = 1; j <= 2; j++) {
		b = bs[j]
		ratio("native/xcrypto (time)", b, "native", "xcrypto", "<=", "1.3")
		ratio("process/native (speed-up)", b, "process", "native", ">=", "3.0")
		ratio("native/muxraw (library overhead)", b, "native", "muxraw", "", "")
		ratio("raw/native (speed-up over ssh -S)", b, "raw", "native", "", "")
	}
	ratio("native/raw ssh -S (throughput)", "Stream1GiB", "native", "raw", ">=", "1.0")
	ratio("native/xcrypto (throughput)", "Stream1GiB", "native", "xcrypto", "", "")
	ratio("native/raw ssh -S (CPU per GiB)", "StreamCPU", "native", "raw", "", "")
	if ("Check" in unit) {
		m = median("Check", "native"); m = m < 0 ? m : m / 1e6
		printf "%-12s %-38s %9.3f %9s %9s %5s\n", "Check", "native (ms)", m, "-", "< 1", met(m, "<", 1)
		ratio("process/native (speed-up)", "Check", "process", "native", "", "")
	}
	printf "\nEarlier rows: the library on its default transport against raw ssh -S\n"
	head()
	ratio("SystemTrue: process/raw (time)", "TrueSeq", "process", "raw", "<=", "1.05")
	ratio("PipeOut1GiB: process/raw (throughput)", "Stream1GiB", "process", "raw", ">=", "0.95")
	ratio("PipeOut1GiB: process/raw (CPU per GiB)", "StreamCPU", "process", "raw", "<=", "1.1")
	ratio("Stdout io.Writer: process/raw (throughput)", "Stream1GiB", "processw", "raw", ">=", "1.0")
	ratio("Stdout io.Writer: native/raw (throughput)", "Stream1GiB", "nativew", "raw", ">=", "1.0")
	ratio("PipeOut1GiB: native/raw (throughput)", "Stream1GiB", "native", "raw", ">=", "0.95")
	printf "\nSFTP (against sftp -b over the same master) and Capture (against\n"
	printf "Net::OpenSSH; peak RSS of a fresh process over the data captured)\n"
	head()
	split("SFTPGet SFTPPut", ss, " ")
	for (j = 1; j <= 2; j++) {
		ratio("native/sftp -b (throughput)", ss[j], "native", "sftpb", ">=", "1.0")
		ratio("process/sftp -b (throughput)", ss[j], "process", "sftpb", ">=", "1.0")
		ratio("native/sftp -b (CPU per GiB)", ss[j] "CPU", "native", "sftpb", "", "")
		ratio("process/sftp -b (CPU per GiB)", ss[j] "CPU", "process", "sftpb", "", "")
		ratio("native/sftp -b (machine CPU per GiB)", ss[j] "Mach", "native", "sftpb", "", "")
		ratio("process/sftp -b (machine CPU per GiB)", ss[j] "Mach", "process", "sftpb", "", "")
	}
	ratio("native/Net::OpenSSH (throughput)", "Capture", "native", "perl", ">=", "1.0")
	ratio("process/Net::OpenSSH (throughput)", "Capture", "process", "perl", ">=", "1.0")
	ratio("native/raw ssh -S >/dev/null", "Capture", "native", "raw", "", "")
	if ("CaptureRSS" in unit) {
		split("native process perl", cs, " ")
		for (k = 1; k <= 3; k++) {
			m = median("CaptureRSS", cs[k])
			if (m < 0) continue
			printf "%-12s %-38s %9.3f %9s %9s %5s\n", "CaptureRSS", cs[k] " peak RSS / data", m / capmib, "-", (cs[k] == "perl" ? "-" : "<= 2.0"), (cs[k] == "perl" ? "-" : met(m / capmib, "<=", 2.0))
		}
	}
}' "$out"

#!/bin/sh
# parallel.sh compares the parallel runner (both transports) and ossh with
# Net::OpenSSH::Parallel, parallel-ssh (pssh), asyncssh and plain ssh on 64
# hosts (4 private sshd, 16 loopback addresses each), in one run: a cold
# round (connect, `true`, disconnect) and a warm one (`true` over open
# connections), every client at parallelism 32 with the same ssh_config
# (curve25519-sha256). Rounds alternate between the clients; the table
# gives medians and the ratios to asyncssh and to plain ssh.
#
#   bench/parallel.sh [rounds]      (default 5; PAR_ROUNDS works too)
#
# It installs nothing: scripts/bench-deps.sh does (make bench runs it).
# The phases profile (processes per host, time per phase) follows the
# table unless PAR_PHASES=0.
set -eu
cd "$(dirname "$0")"
rounds=${1:-${PAR_ROUNDS:-5}}

missing=""
perl -MNet::OpenSSH::Parallel -e 1 >/dev/null 2>&1 || missing="$missing libnet-openssh-parallel-perl"
command -v parallel-ssh >/dev/null 2>&1 || missing="$missing pssh"
/usr/bin/python3 -c 'import asyncssh' >/dev/null 2>&1 || missing="$missing python3-asyncssh"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
if [ -n "$missing" ]; then
	echo "parallel.sh: missing peers:$missing" >&2
	echo "parallel.sh: install them with scripts/bench-deps.sh (as root) or apt-get install -y$missing" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ossh" ../cmd/ossh
go test -c -o "$tmp/bench.test" .
OSSH_BIN="$tmp/ossh" PAR_ROUNDS="$rounds" PAR_REQUIRE_PEERS=1 \
	"$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkParallel64Peers$' -test.benchtime 1x -test.timeout 60m
if [ "${PAR_PHASES:-1}" != 0 ]; then
	"$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkParallel64Phases$' -test.benchtime 1x -test.timeout 20m
fi

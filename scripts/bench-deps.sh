#!/usr/bin/env bash
# Installs the peers bench/parallel.sh compares the parallel runner with,
# from Debian's packages, when they are missing:
#   Net::OpenSSH::Parallel  libnet-openssh-parallel-perl
#   Net::OpenSSH            libnet-openssh-perl (compare.sh's Capture row)
#   parallel-ssh (pssh)     pssh
#   asyncssh                python3-asyncssh (for /usr/bin/python3)
# As root on Debian it runs "apt-get update" once, then one install;
# otherwise it only reports what is missing (exit status 0 either way:
# bench/parallel.sh says what it cannot run).
set -euo pipefail

want=()
perl -MNet::OpenSSH::Parallel -e 1 >/dev/null 2>&1 || want+=(libnet-openssh-parallel-perl)
perl -MNet::OpenSSH -e 1 >/dev/null 2>&1 || want+=(libnet-openssh-perl)
command -v parallel-ssh >/dev/null 2>&1 || want+=(pssh)
/usr/bin/python3 -c 'import asyncssh' >/dev/null 2>&1 || want+=(python3-asyncssh)
if [ "${#want[@]}" -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "bench-deps: installing ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
else
	echo "bench-deps: missing ${want[*]} (as root: apt-get install -y ${want[*]})" >&2
fi

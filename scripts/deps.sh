#!/usr/bin/env bash
# Installs what the tests and the demo need, when it is missing.
# As root on Debian it uses apt-get (one "apt-get update", then one install);
# otherwise it only reports what is missing.
set -euo pipefail

want_pkgs=()
need() { # need <command-or-path> <debian package>
	if [ "${1#/}" != "$1" ]; then [ -e "$1" ] || want_pkgs+=("$2")
	else command -v "$1" >/dev/null 2>&1 || want_pkgs+=("$2"); fi
}
need ssh openssh-client
need /usr/sbin/sshd openssh-server
need ssh-keygen openssh-client
need ps procps
need pkill procps
if [ "${1:-}" != "--minimal" ]; then
	need rsync rsync
	need sshfs sshfs
	need fusermount3 fuse3
	need dash dash
	need zsh zsh
	need mksh mksh
	need ksh ksh
	need csh csh
	need tcsh tcsh
	need fish fish
	need busybox busybox
	need curl curl
fi
if [ "${#want_pkgs[@]}" -gt 0 ]; then
	mapfile -t want_pkgs < <(printf '%s\n' "${want_pkgs[@]}" | sort -u)
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "deps: installing ${want_pkgs[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "${want_pkgs[@]}" >/dev/null
	else
		echo "deps: missing ${want_pkgs[*]} (as root: apt-get install -y ${want_pkgs[*]})" >&2
	fi
fi

# The unprivileged test account sshd logs in as when the tests run as root.
if [ "$(id -u)" = 0 ]; then
	user="${OPENSSH_TEST_USER:-goopenssh}"
	if ! id "$user" >/dev/null 2>&1; then
		useradd -m -s /bin/sh "$user"
	fi
	# "!" (a new account) is a locked account to sshd even for keys.
	if [ "$(getent shadow "$user" | cut -d: -f2 | cut -c1)" = "!" ]; then
		usermod -p '*' "$user"
	fi
	mkdir -p /run/sshd
	# sshfs export mounts as the unprivileged test account, which needs
	# /dev/fuse (root-only in some containers).
	if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
		chmod 0666 /dev/fuse
	fi
fi

if [ "${1:-}" != "--minimal" ]; then
	gobin="$(go env GOPATH)/bin"
	if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$gobin/staticcheck" ]; then
		echo "deps: installing staticcheck"
		go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	fi
fi

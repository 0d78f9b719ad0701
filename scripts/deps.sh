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
need sudo sudo
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
	# The sudo tests log in as a second account that may run anything
	# through sudo with its password. The password is random, made once
	# per machine, and kept root-only outside the repository (the test
	# harness, internal/sshtest/sudo.go, does the same when it is missing).
	sudo_user=goopensshsudo
	id "$sudo_user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$sudo_user"
	pwfile=/etc/goopenssh-test/sudo-password
	if [ ! -s "$pwfile" ]; then
		mkdir -p -m 0700 /etc/goopenssh-test
		(umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile"; echo >>"$pwfile")
		echo "$sudo_user:$(cat "$pwfile")" | chpasswd
	fi
	if [ -d /etc/sudoers.d ] && [ ! -e "/etc/sudoers.d/$sudo_user" ]; then
		printf '%s ALL=(ALL:ALL) ALL\nDefaults:%s timestamp_timeout=0, !lecture, passwd_tries=3\n' "$sudo_user" "$sudo_user" >"/etc/sudoers.d/.$sudo_user"
		chmod 0440 "/etc/sudoers.d/.$sudo_user"
		visudo -cf "/etc/sudoers.d/.$sudo_user" >/dev/null && mv "/etc/sudoers.d/.$sudo_user" "/etc/sudoers.d/$sudo_user"
	fi
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

#!/usr/bin/env bash
# Installs Debian packages that are not installed yet: apt-get update, then
# apt-get install -y. Needs root. Does nothing (and touches no network) when
# every package is already there.
#
# Another apt or dpkg (unattended-upgrades, a second set-up running at the
# same time) may hold the dpkg or lists lock. apt waits for the lock itself
# (DPkg::Lock::Timeout), and the whole step is retried a bounded number of
# times with growing pauses, so a collision delays the set-up but never hangs
# it: after the last attempt the script fails with apt's error.
#
# With APT_NO_RECOMMENDS=1 it passes --no-install-recommends: docker-compose
# would otherwise pull in a whole Docker engine (docker.io). Chromium keeps
# its recommends (fonts among them), as a desktop install would.
#
# Usage: [APT_NO_RECOMMENDS=1] scripts/apt-install.sh PACKAGE...
set -euo pipefail

say() { echo "apt-install: $*"; }
die() { echo "apt-install: error: $*" >&2; exit 1; }

[ "$#" -gt 0 ] || die "usage: $0 PACKAGE..."

missing=()
for pkg in "$@"; do
	if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]; then
		missing+=("$pkg")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	say "already installed: $*"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]} (run as root or: sudo $0 $*)"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this set-up expects Debian (install ${missing[*]} by hand)"

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=120 -o Acquire::Retries=3)
install_opts=(-y -q)
if [ "${APT_NO_RECOMMENDS:-}" = 1 ]; then
	install_opts+=(--no-install-recommends)
fi
attempts="${APT_ATTEMPTS:-5}"
pause=5
for ((i = 1; i <= attempts; i++)); do
	say "attempt $i/$attempts: apt-get update && apt-get install -y ${missing[*]}"
	if apt-get "${apt_opts[@]}" update -q && apt-get "${apt_opts[@]}" install "${install_opts[@]}" "${missing[@]}"; then
		say "installed: ${missing[*]}"
		exit 0
	fi
	if [ "$i" -lt "$attempts" ]; then
		say "apt failed (lock held by another apt/dpkg, or a mirror hiccup); retrying in ${pause}s"
		sleep "$pause"
		pause=$((pause * 2))
	fi
done
die "could not install ${missing[*]} after $attempts attempts"

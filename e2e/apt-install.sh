#!/usr/bin/env bash
# Installs Debian packages for a test rig, as the rigs' install.sh scripts
# share it: nothing to do when all are installed; otherwise under the apt
# lock other installers use too, refreshing the package lists when apt does
# not know a package, or when a download fails because stale lists name a
# version the archive no longer has.
#   apt-install.sh RIG PACKAGE...
set -euo pipefail

rig=$1
shift
lock=/var/lock/oce-apt.lock

missing=()
for p in "$@"; do
	if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	echo "$rig rig: already installed" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() {
	flock "$lock" apt-get -o Dpkg::Use-Pty=0 -q -y "$@"
}

for p in "${missing[@]}"; do
	cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
	if [[ -z "$cand" || "$cand" == "(none)" ]]; then
		apt_get update
		break
	fi
done

apt_get install --no-install-recommends "${missing[@]}" ||
	{ apt_get update && apt_get install --no-install-recommends "${missing[@]}"; }
echo "$rig rig: installed ${missing[*]}" >&2

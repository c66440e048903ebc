#!/usr/bin/env bash
# Installs what the Keystone test rig needs: Debian's python3-keystone (the
# identity service as a library; it pulls in python3-openstackclient and
# keystonemiddleware) and uwsgi to serve it. The `keystone` package is
# avoided on purpose: it asks debconf to set up a database and its init
# script starts uwsgi on all interfaces. Placement itself comes from
# ../placement/install.sh.
set -euo pipefail

packages=(python3-keystone python3-keystonemiddleware python3-openstackclient uwsgi-core uwsgi-plugin-python3)
lock=/var/lock/oce-apt.lock

missing=()
for p in "${packages[@]}"; do
	if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	echo "keystone rig: already installed" >&2
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() {
	flock "$lock" apt-get -o Dpkg::Use-Pty=0 -q -y "$@"
}

# Refresh the package lists only when apt does not know a candidate yet.
for p in "${missing[@]}"; do
	cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
	if [[ -z "$cand" || "$cand" == "(none)" ]]; then
		apt_get update
		break
	fi
done

# Stale package lists name versions the archive no longer has: refresh
# them and try once more.
apt_get install --no-install-recommends "${missing[@]}" ||
	{ apt_get update && apt_get install --no-install-recommends "${missing[@]}"; }
echo "keystone rig: installed ${missing[*]}" >&2

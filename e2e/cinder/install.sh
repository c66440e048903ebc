#!/usr/bin/env bash
# Installs what the Cinder test rig needs from Debian bookworm: the Cinder
# Python package (not the cinder-* service packages: their scripts set up a
# database through dbconfig and start services), RabbitMQ and
# PostgreSQL 15. Package scripts are kept from starting any service (they
# would listen on every interface); start.sh starts them on 127.0.0.1 only.
# Idempotent; quick when everything is installed. Run as root.
set -euo pipefail

packages=(python3-cinder python3-psycopg2 rabbitmq-server postgresql-15)

installed() {
	local p
	for p in "${packages[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || return 1
	done
}

if installed; then
	echo "cinder rig: packages already installed"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "cinder rig: install.sh must run as root" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
lock=/var/lock/oce-apt.lock
policy=/usr/sbin/policy-rc.d
own_policy=false

cleanup() {
	if $own_policy; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT

# Hold the apt lock for the whole install so that the temporary
# policy-rc.d cannot leak into another installer's session, or theirs into ours.
exec 9>"$lock"
flock 9

if ! installed; then
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# oce cinder rig: keep package scripts from starting services\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=true
	fi
	# Refresh the package lists only when they cannot give us the packages.
	if ! apt-cache show python3-cinder rabbitmq-server postgresql-15 >/dev/null 2>&1; then
		apt-get update
	fi
	install_packages() {
		apt-get install -y --no-install-recommends \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
			"${packages[@]}"
	}
	# Stale package lists name versions the archive no longer has: refresh
	# them and try once more.
	install_packages || { apt-get update && install_packages; }
fi
cleanup
own_policy=false
flock -u 9

# The rig runs its own PostgreSQL cluster and RabbitMQ node (start.sh), on
# other ports; the distribution's instances stay stopped unless someone
# else started them.
echo "cinder rig: packages installed"

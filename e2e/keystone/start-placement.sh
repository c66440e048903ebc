#!/usr/bin/env bash
# Starts a second throw-away Placement API on loopback that authenticates
# requests with keystonemiddleware against the Keystone of ./start.sh
# (which must be running: the service user's password comes from its
# rig.env). Fresh SQLite database, one single-threaded uwsgi process, no
# memcached (keystonemiddleware then caches validated tokens in process).
# Served at / (the catalog's public endpoint) and at /internal (its
# internal endpoint); every request is logged to $STATE_DIR/uwsgi.log.
# Env: PLACEMENT_KS_PORT (18779), STATE_DIR (/tmp/oce-e2e/placement-ks),
#      KEYSTONE_STATE_DIR (/tmp/oce-e2e/keystone).
# Prints the endpoint on stdout when GET / answers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${PLACEMENT_KS_PORT:-18779}"
state="${STATE_DIR:-/tmp/oce-e2e/placement-ks}"
ks_state="${KEYSTONE_STATE_DIR:-/tmp/oce-e2e/keystone}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
endpoint="http://127.0.0.1:${port}"

if [[ ! -s "$ks_state/rig.env" ]]; then
	echo "start-placement.sh: no $ks_state/rig.env; run start.sh first" >&2
	exit 1
fi
# shellcheck source=/dev/null
. "$ks_state/rig.env"

STATE_DIR="$state" "$here/../placement/stop.sh" >/dev/null

probe() {
	python3 - "$endpoint/" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2).read()
except Exception:
    sys.exit(1)
PY
}

if probe; then
	echo "start-placement.sh: something already answers on $endpoint; not ours to stop" >&2
	exit 1
fi

rm -f "$state"/placement.sqlite* "$state/placement.conf" "$state/uwsgi.log" "$state/uwsgi.pid"
umask 077
cat >"$state/placement.conf" <<CONF
[DEFAULT]
debug = false

[api]
auth_strategy = keystone

[keystone_authtoken]
www_authenticate_uri = ${KEYSTONE_URL}
auth_url = ${KEYSTONE_URL}
auth_type = password
username = placement
password = ${KEYSTONE_PLACEMENT_PASSWORD}
user_domain_name = Default
project_name = service
project_domain_name = Default
region_name = RegionOne
interface = public
http_connect_timeout = 10
http_request_max_retries = 1

[placement_database]
connection = sqlite:///${state}/placement.sqlite
sqlite_synchronous = false
CONF

export OS_PLACEMENT_CONFIG_DIR="$state"
placement-manage --config-file "$state/placement.conf" db sync >>"$state/uwsgi.log" 2>&1

# Connection: close as in ../placement/start.sh. Unlike there, requests
# are logged (REQUEST_URI shows /internal or not).
uwsgi --plugin python3 \
	--http-socket "127.0.0.1:${port}" \
	--wsgi-file "$here/placement_wsgi.py" \
	--processes 1 --threads 1 \
	--need-app \
	--add-header "Connection: close" \
	--env "OS_PLACEMENT_CONFIG_DIR=${state}" \
	--pidfile "$state/uwsgi.pid" \
	--daemonize "$state/uwsgi.log"

for ((i = 0; i < 120; i++)); do
	if [[ -s "$state/uwsgi.pid" ]] && ! kill -0 "$(cat "$state/uwsgi.pid")" 2>/dev/null; then
		break
	fi
	if [[ -s "$state/uwsgi.pid" ]] && probe; then
		echo "$endpoint"
		exit 0
	fi
	sleep 0.5
done

echo "start-placement.sh: placement did not answer on $endpoint within 60 s; log follows" >&2
tail -n 40 "$state/uwsgi.log" >&2 || true
STATE_DIR="$state" "$here/../placement/stop.sh" >/dev/null || true
exit 1

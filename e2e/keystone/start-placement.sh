#!/usr/bin/env bash
# Starts a second throw-away Placement API on loopback that authenticates
# requests with keystonemiddleware against the Keystone of ./start.sh
# (which must be running: the service user's password comes from its
# rig.env), through ../placement/start.sh. No memcached: keystonemiddleware
# then caches validated tokens in process. Served at / (the catalog's
# public endpoint) and at /internal (its internal endpoint); every request
# is logged to $STATE_DIR/uwsgi.log (REQUEST_URI shows which one was used).
# Env: PLACEMENT_KS_PORT (18779), STATE_DIR (/tmp/oce-e2e/placement-ks),
#      KEYSTONE_STATE_DIR (/tmp/oce-e2e/keystone).
# Prints the endpoint on stdout when GET / answers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${STATE_DIR:-/tmp/oce-e2e/placement-ks}"
ks_state="${KEYSTONE_STATE_DIR:-/tmp/oce-e2e/keystone}"

if [[ ! -s "$ks_state/rig.env" ]]; then
	echo "start-placement.sh: no $ks_state/rig.env; run start.sh first" >&2
	exit 1
fi
# shellcheck source=/dev/null
. "$ks_state/rig.env"

mkdir -p "$state"
umask 077
cat >"$state/auth.conf" <<CONF
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
CONF

PLACEMENT_PORT="${PLACEMENT_KS_PORT:-18779}" STATE_DIR="$state" \
	PLACEMENT_AUTH_CONF="$state/auth.conf" PLACEMENT_WSGI="$here/placement_wsgi.py" PLACEMENT_LOG_REQUESTS=1 \
	exec "$here/../placement/start.sh"

#!/usr/bin/env bash
# Starts a throw-away Keystone on loopback for tests: fresh SQLite database,
# fernet tokens with a short lifetime, one single-threaded uwsgi process.
# After `keystone-manage bootstrap` (user admin, project admin, RegionOne),
# setup.py adds a service user for Placement's keystonemiddleware, the
# exporter's user with an application credential, and the placement
# service's endpoints (see README.md). The passwords are random per start.
#
# Env: KEYSTONE_PORT (15000), STATE_DIR (/tmp/oce-e2e/keystone),
#      KEYSTONE_TOKEN_EXPIRATION (60 s), PLACEMENT_KS_PORT (18779, what the
#      catalog points at).
# Writes $STATE_DIR/rig.json (credentials, mode 0600) and rig.env, and
# prints the identity endpoint on stdout when it answers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${KEYSTONE_PORT:-15000}"
expiration="${KEYSTONE_TOKEN_EXPIRATION:-60}"
placement_port="${PLACEMENT_KS_PORT:-18779}"
state="${STATE_DIR:-/tmp/oce-e2e/keystone}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
endpoint="http://127.0.0.1:${port}/v3"

STATE_DIR="$state" "$here/stop.sh" >/dev/null

# Answers 0 when something serves GET on the endpoint.
probe() {
	python3 - "$endpoint" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2).read()
except Exception:
    sys.exit(1)
PY
}

if probe; then
	echo "start.sh: something already answers on $endpoint; not ours to stop" >&2
	exit 1
fi

rm -rf "$state"/keystone.sqlite* "$state/keystone.conf" "$state/uwsgi.log" "$state/uwsgi.pid" \
	"$state/manage.log" "$state/rig.json" "$state/rig.env" "$state/fernet-keys" "$state/credential-keys"
umask 077
secret() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
admin_password="$(secret)"
placement_password="$(secret)"
exporter_password="$(secret)"

cat >"$state/keystone.conf" <<CONF
[DEFAULT]
debug = false
use_stderr = true

[database]
connection = sqlite:///${state}/keystone.sqlite

[identity]
# bcrypt's cheapest cost (default 12): every password check takes ~1 ms
# instead of ~0.25 s, and keystonemiddleware checks its service user's
# password often (see README.md).
password_hash_rounds = 4

[token]
provider = fernet
expiration = ${expiration}

[fernet_tokens]
key_repository = ${state}/fernet-keys/

[fernet_receipts]
key_repository = ${state}/fernet-keys/

[credential]
key_repository = ${state}/credential-keys/

[cache]
enabled = false
CONF

manage() {
	keystone-manage --config-file "$state/keystone.conf" "$@" >>"$state/manage.log" 2>&1 || {
		echo "start.sh: keystone-manage $1 failed; log follows" >&2
		tail -n 40 "$state/manage.log" >&2
		exit 1
	}
}
manage db_sync
# Keystone leaves a read open on one pooled connection now and then; in
# SQLite's default journal mode that blocks the next write's commit
# ("database is locked" after 5 s). In WAL mode readers never block a
# writer. The mode is stored in the database file.
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$state/keystone.sqlite"
manage fernet_setup --keystone-user root --keystone-group root
manage credential_setup --keystone-user root --keystone-group root
manage bootstrap \
	--bootstrap-username admin --bootstrap-password "$admin_password" \
	--bootstrap-project-name admin --bootstrap-role-name admin \
	--bootstrap-service-name keystone --bootstrap-region-id RegionOne \
	--bootstrap-admin-url "$endpoint" --bootstrap-internal-url "$endpoint" \
	--bootstrap-public-url "$endpoint"

# As for Placement (../placement/start.sh): uwsgi's --http-socket closes
# every connection after the response, and the header keeps clients from
# reusing it. One process: SQLite allows one writer.
uwsgi --plugin python3 \
	--http-socket "127.0.0.1:${port}" \
	--wsgi-file /usr/bin/keystone-wsgi-public \
	--processes 1 --threads 1 \
	--need-app --disable-logging \
	--add-header "Connection: close" \
	--env "OS_KEYSTONE_CONFIG_DIR=${state}" \
	--pidfile "$state/uwsgi.pid" \
	--daemonize "$state/uwsgi.log"

up=0
for ((i = 0; i < 120; i++)); do
	if [[ -s "$state/uwsgi.pid" ]] && ! kill -0 "$(cat "$state/uwsgi.pid")" 2>/dev/null; then
		break
	fi
	if [[ -s "$state/uwsgi.pid" ]] && probe; then
		up=1
		break
	fi
	sleep 0.5
done
if ((!up)); then
	echo "start.sh: keystone did not answer on $endpoint within 60 s; log follows" >&2
	tail -n 40 "$state/uwsgi.log" >&2 || true
	STATE_DIR="$state" "$here/stop.sh" >/dev/null || true
	exit 1
fi

cat >"$state/rig.env" <<ENV
KEYSTONE_URL=$endpoint
KEYSTONE_ADMIN_PASSWORD=$admin_password
KEYSTONE_PLACEMENT_PASSWORD=$placement_password
KEYSTONE_EXPORTER_PASSWORD=$exporter_password
ENV
if [[ "${KEYSTONE_SKIP_SETUP:-}" == 1 ]]; then echo "$endpoint"; exit 0; fi
if ! KS_URL="$endpoint" PLACEMENT_URL="http://127.0.0.1:${placement_port}" \
	ADMIN_PASSWORD="$admin_password" PLACEMENT_PASSWORD="$placement_password" \
	EXPORTER_PASSWORD="$exporter_password" TOKEN_EXPIRATION="$expiration" \
	timeout 120 python3 "$here/setup.py" "$state/rig.json"; then
	echo "start.sh: registering users and the catalog failed; keystone log follows" >&2
	tail -n 40 "$state/uwsgi.log" >&2 || true
	STATE_DIR="$state" "$here/stop.sh" >/dev/null || true
	exit 1
fi
echo "$endpoint"

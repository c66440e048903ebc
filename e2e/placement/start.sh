#!/usr/bin/env bash
# Starts a throw-away Placement API on loopback for tests: fresh SQLite
# database, noauth2, one single-threaded uwsgi process (SQLite allows one
# writer; a second process fails writes with "database is locked").
# Env: PLACEMENT_PORT (18778), STATE_DIR (/tmp/oce-e2e/placement);
#      PLACEMENT_KEEP_DB=1: keep the database of an earlier start in
#        STATE_DIR instead of starting empty (its log: uwsgi.log.1);
#      PLACEMENT_PROCESSES: uwsgi worker processes (1; more only for
#        reading: concurrent writes fail with "database is locked");
#      PLACEMENT_AUTH_CONF: a file whose [api]/[keystone_authtoken] sections
#        replace the noauth2 default (../keystone/start-placement.sh);
#      PLACEMENT_WSGI: the WSGI file to serve (/usr/bin/placement-api);
#      PLACEMENT_LOG_REQUESTS=1: log every request to STATE_DIR/uwsgi.log.
# Prints the endpoint on stdout when GET / answers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${PLACEMENT_PORT:-18778}"
state="${STATE_DIR:-/tmp/oce-e2e/placement}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
endpoint="http://127.0.0.1:${port}"

PLACEMENT_PORT="$port" STATE_DIR="$state" "$here/stop.sh" >/dev/null

# Answers 0 when something serves GET / on the endpoint.
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
	echo "start.sh: something already answers on $endpoint; not ours to stop" >&2
	exit 1
fi

if [[ "${PLACEMENT_KEEP_DB:-}" == 1 ]]; then
	rm -f "$state/placement.conf" "$state/uwsgi.pid"
	# Placement logs every request: keep one earlier log, not all of them.
	if [[ -e "$state/uwsgi.log" ]]; then mv -f "$state/uwsgi.log" "$state/uwsgi.log.1"; fi
	echo "start.sh: $(date -u +%FT%TZ) start on the kept database" >"$state/uwsgi.log"
else
	rm -f "$state"/placement.sqlite* "$state/placement.conf" "$state/uwsgi.log" "$state/uwsgi.pid"
fi
processes="${PLACEMENT_PROCESSES:-1}"
[[ "$processes" =~ ^[1-9][0-9]*$ ]] || { echo "start.sh: PLACEMENT_PROCESSES must be a positive integer" >&2; exit 2; }
# More than one worker: a master that stops them with it, and the app loaded
# in each worker after the fork (an SQLite connection must not be shared
# across a fork).
workers=(--processes 1)
((processes == 1)) || workers=(--master --processes "$processes" --lazy-apps)
umask 077
{
	printf '[DEFAULT]\ndebug = false\n\n'
	if [[ -n "${PLACEMENT_AUTH_CONF:-}" ]]; then
		cat "$PLACEMENT_AUTH_CONF"
	else
		printf '[api]\nauth_strategy = noauth2\n'
	fi
	printf '\n[placement_database]\nconnection = sqlite:///%s/placement.sqlite\nsqlite_synchronous = false\n' "$state"
} >"$state/placement.conf"

# The WSGI app ignores --config-file and reads only this directory.
export OS_PLACEMENT_CONFIG_DIR="$state"
placement-manage --config-file "$state/placement.conf" db sync >>"$state/uwsgi.log" 2>&1

# uwsgi's --http-socket closes the connection after every response without
# saying so; clients that reuse it (Go's http.Transport does) then get
# "connection reset" on a later request. The header makes them not reuse it.
# A keep-alive socket (--http11-socket) would instead let one idle client
# hold the only worker.
uwsgi --plugin python3 \
	--http-socket "127.0.0.1:${port}" \
	--wsgi-file "${PLACEMENT_WSGI:-/usr/bin/placement-api}" \
	"${workers[@]}" --threads 1 \
	--need-app $([[ "${PLACEMENT_LOG_REQUESTS:-}" == 1 ]] || echo --disable-logging) \
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

echo "start.sh: placement did not answer on $endpoint within 60 s; log follows" >&2
tail -n 40 "$state/uwsgi.log" >&2 || true
PLACEMENT_PORT="$port" STATE_DIR="$state" "$here/stop.sh" >/dev/null || true
exit 1

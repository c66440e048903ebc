#!/usr/bin/env bash
# Stops the Keystone started by start.sh (same STATE_DIR). Idempotent.
set -euo pipefail

state="${STATE_DIR:-/tmp/oce-e2e/keystone}"
pidfile="$state/uwsgi.pid"

[[ -s "$pidfile" ]] || exit 0
pid="$(cat "$pidfile")"

# Only signal the pid if it is still our uwsgi, not a recycled pid.
if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q uwsgi; then
	kill -INT "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		echo "stop.sh: uwsgi $pid did not stop in 10 s; killed" >&2
	fi
fi
rm -f "$pidfile"
echo "stopped"

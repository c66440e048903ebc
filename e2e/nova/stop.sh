#!/usr/bin/env bash
# Stops everything start.sh started (nova services, Glance, Placement,
# RabbitMQ and its epmd, PostgreSQL); bounded and idempotent. Leaves the state in
# STATE_DIR (delete that directory for a fresh rig). Same environment as
# start.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -d "$STATE_DIR" ] || exit 0
# The computes take ~5 s each to stop: all at once.
for f in "$RUN"/compute-*.pid; do
	[ -e "$f" ] || continue
	n=${f##*/}
	stop_bg "${n%.pid}" &
done
wait
stop_bg api
stop_bg scheduler
stop_bg conductor
stop_bg glance
stop_bg neutron
STATE_DIR=$PLACEMENT_STATE "$RIG_DIR/../placement/stop.sh" >/dev/null
stop_bg rabbitmq 30
rabbit_env
if command -v epmd >/dev/null 2>&1 && epmd -port "$EPMD_PORT" -names >/dev/null 2>&1; then
	# Our own epmd (on its own port), which rabbitmq-server started.
	epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
	log "epmd on port $EPMD_PORT stopped"
fi
if [ -s "$STATE_DIR/pgdata/PG_VERSION" ] &&
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE_DIR/pgdata" status >/dev/null 2>&1; then
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE_DIR/pgdata" -m fast -w -t 30 stop >/dev/null ||
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE_DIR/pgdata" -m immediate -w -t 10 stop >/dev/null || true
	log "postgresql stopped"
fi

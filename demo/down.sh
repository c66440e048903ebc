#!/usr/bin/env bash
# Stops everything demo/up.sh started: Prometheus, the exporter, Manila (its
# services, RabbitMQ, PostgreSQL) and Placement. Idempotent. Keeps the state
# directory (logs, Manila's database, Prometheus' data); delete it
# (rm -rf /tmp/oce-demo, or $DEMO_STATE_DIR) for a fresh start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || { demo_log "needs root, as up.sh (try: sudo $0)"; exit 1; }
stop_all
demo_log "stopped; state kept in $DEMO_STATE_DIR"

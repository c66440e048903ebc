#!/usr/bin/env bash
# Stops the Keystone started by start.sh (same STATE_DIR). Idempotent. Like
# Placement it is one uwsgi process with a pid file in its state directory.
set -euo pipefail
STATE_DIR="${STATE_DIR:-/tmp/oce-e2e/keystone}" exec "$(dirname "${BASH_SOURCE[0]}")/../placement/stop.sh"

#!/usr/bin/env bash
# Stops the Placement started by start-placement.sh. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="${STATE_DIR:-/tmp/oce-e2e/placement-ks}" exec "$here/../placement/stop.sh"

#!/usr/bin/env bash
# Re-records the Placement cassettes in collector/testdata/placement from a
# fresh real server. Uses its own port and state directory so that it does
# not disturb a rig started with the defaults.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export PLACEMENT_PORT="${PLACEMENT_PORT:-18779}"
export STATE_DIR="${STATE_DIR:-/tmp/oce-e2e/placement-record}"
# Placement inserts the standard traits in Python set order, so the order of
# a provider's traits changes between server runs. A fixed hash seed keeps
# re-recorded cassettes from differing in that order alone.
export PYTHONHASHSEED="${PYTHONHASHSEED:-0}"

"$here/install.sh"
trap '"$here/stop.sh" >/dev/null' EXIT
endpoint="$("$here/start.sh")"
cd "$repo"
go run ./e2e/placement/seed -endpoint "$endpoint" record collector/testdata/placement

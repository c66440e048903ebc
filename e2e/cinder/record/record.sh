#!/usr/bin/env bash
# Re-records collector/testdata/cinder/ from the Cinder test rig: installs and
# starts the rig if needed, deletes every volume, puts the default pools back,
# records the plain answers, then the ones that need the rig changed (a
# stopped volume service, a stopped scheduler: about 60 s, volumes filling
# a pool), puts everything back, and stops the rig again if this script
# started it. Run as root. About 2.5 minutes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(dirname "$here")
source "$rig/lib.sh"

"$rig/install.sh"
started=false
if ! pid_alive api; then started=true; fi
"$rig/start.sh" >/dev/null
if $started; then trap '"$rig/stop.sh"' EXIT; fi
# CINDER_RIG_RECORD_OUT: another directory than collector/testdata/cinder (a trial run).
rec() { "$PY" "$here/record.py" --url "http://127.0.0.1:$CINDER_PORT" ${CINDER_RIG_RECORD_OUT:+--out "$CINDER_RIG_RECORD_OUT"} "$@"; }
api() { "$PY" "$rig/rigapi.py" --url "http://127.0.0.1:$CINDER_PORT" --pools-file "$CINDER_RIG_POOLS" "$@"; }

api delete-volumes
"$rig/ctl.sh" reset-pools 120
rec

"$rig/ctl.sh" stop-volume rig-vol10
"$rig/ctl.sh" wait-pools 60
rec --only pools-detail-vol10-stopped
"$rig/ctl.sh" start-volume rig-vol10

"$rig/ctl.sh" stop-scheduler
rec --only error-scheduler-stopped
"$rig/ctl.sh" start-scheduler

# Ten 1 GB volumes fill rig-vol1@beta#b2; the eleventh is refused by the
# CapacityFilter (it stays in error, and counts in no pool); one 5 GB gold.
api fill tiny 1 20 >/dev/null
api create-volume gold 5 >/dev/null
"$rig/ctl.sh" wait-pools 60
rec --only pools-detail-with-volumes
api delete-volumes
"$rig/ctl.sh" wait-pools 60

# rig-vol1@beta reports an empty pool list.
"$PY" -c '
import json, sys
pools = json.load(open(sys.argv[1]))
pools["rig-vol1"]["beta"] = []
json.dump(pools, open(sys.argv[2], "w"))' "$rig/pools.default.json" "$STATE_DIR/pools-beta-empty.json"
cp "$STATE_DIR/pools-beta-empty.json" "$CINDER_RIG_POOLS.tmp" && mv -f "$CINDER_RIG_POOLS.tmp" "$CINDER_RIG_POOLS"
# The volume manager has counted volumes on b2 since it started: the back
# end then lists no pool at all.
sleep $((3 * CINDER_RIG_REPORT_INTERVAL))
rec --only pools-detail-backend-empty-list-after-volumes
# A volume service that has counted none since its start: one pool named
# after the back end.
"$rig/ctl.sh" stop-volume rig-vol1
volume_start rig-vol1
api wait-pool 'rig-vol1@beta#beta' 120
rec --only pools-detail-backend-without-pools
"$rig/ctl.sh" reset-pools 60

#!/usr/bin/env bash
# Re-records collector/testdata/nova/{nova,placement,nova-cmp1-down,
# nova-cmp2-hung,flavor-requests}.json
# from a fresh Nova test rig: stops the rig and deletes its STATE_DIR,
# starts it with the default computes file, seeds it (aggregates, flavors,
# Placement allocations), disables rig-cmp2 and forces rig-cmp3 down,
# records, stops rig-cmp1's compute, waits until it is reported down,
# records again, freezes rig-cmp2's compute (SIGSTOP) and records the
# 60 s failure of os-hypervisors/detail at 2.93, and stops the rig. Run as root. Same environment as
# start.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(dirname "$here")
source "$rig/lib.sh"

"$rig/install.sh"
"$rig/stop.sh"
rm -rf "$STATE_DIR"
trap '"$rig/stop.sh"' EXIT
NOVA_RIG_COMPUTES=$STATE_DIR/computes.json "$rig/start.sh" >/dev/null
"$rig/ctl.sh" seed
"$rig/ctl.sh" service rig-cmp2 disable "rig: maintenance" >/dev/null
"$rig/ctl.sh" service rig-cmp3 down >/dev/null
# The disabled trait is set by the compute (an RPC from the API): wait for it.
for ((i = 0; i < 60; i++)); do
	uuid=$("$PY" "$rig/rigapi.py" nova GET /v2.1/os-hypervisors/detail --version 2.53 |
		"$PY" -c 'import json,sys; print([h["id"] for h in json.load(sys.stdin)["hypervisors"] if h["service"]["host"] == "rig-cmp2"][0])')
	if "$PY" "$rig/rigapi.py" placement GET "/resource_providers/$uuid/traits" | grep -q COMPUTE_STATUS_DISABLED; then break; fi
	sleep 1
done
mkdir -p "$RIG_DIR/../../collector/testdata/nova"
out=$(cd "$RIG_DIR/../../collector/testdata/nova" && pwd)
"$PY" "$rig/rigapi.py" nova GET '/v2.1/flavors/detail?is_public=None' --version 2.75 |
	"$PY" "$here/flavor_requests.py" "$CONF" >"$out/flavor-requests.json"
"$PY" "$here/record.py" seeded --out "$out" --flavor-requests "$out/flavor-requests.json"
"$rig/ctl.sh" stop-compute rig-cmp1
"$rig/ctl.sh" wait-down rig-cmp1 60
"$PY" "$here/record.py" down --out "$out"
# Heartbeats come every 2 s and a host counts as down 10 s after the last
# one: the request below reaches it while it still counts as up.
"$rig/ctl.sh" freeze-compute rig-cmp2
"$PY" "$here/record.py" hung --out "$out"
"$rig/ctl.sh" thaw-compute rig-cmp2

#!/usr/bin/env bash
# Smoke test of a running Cinder test rig (start.sh first): the seven default
# pools are listed; volumes of type tiny fill rig-vol1@beta#b2 (10 GB) until
# the scheduler's CapacityFilter refuses the eleventh 1 GB one; the pool then
# reports allocated = provisioned = 10 and free 0; after deleting the volumes
# the default values come back. Leaves the rig as it found it (no volumes,
# default pools). Fails with a message otherwise. Run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -e "$CONF" ] || die "no rig in $STATE_DIR (run start.sh)"
rigapi delete-volumes
"$RIG_DIR/ctl.sh" reset-pools 60
n=$(rigapi pools | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["pools"]))')
[ "$n" = 7 ] || die "smoke: $n pools listed, want 7"
fitted=$(rigapi fill tiny 1 20 2>/dev/null)
[ "$fitted" = 10 ] || die "smoke: $fitted 1 GB tiny volumes fitted in rig-vol1@beta#b2, want 10"
"$RIG_DIR/ctl.sh" wait-pools 60
got=$(rigapi pools | "$PY" -c '
import json, sys
for p in json.load(sys.stdin)["pools"]:
    if p["name"] == "rig-vol1@beta#b2":
        c = p["capabilities"]
        print(c["allocated_capacity_gb"], c["provisioned_capacity_gb"], c["free_capacity_gb"])')
[ "$got" = "10 10 0" ] || die "smoke: rig-vol1@beta#b2 allocated/provisioned/free = $got, want 10 10 0"
rigapi delete-volumes
"$RIG_DIR/ctl.sh" wait-pools 60
log "smoke: ok (7 pools; 10 volumes filled rig-vol1@beta#b2, the 11th refused)"

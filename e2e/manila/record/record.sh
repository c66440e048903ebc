#!/usr/bin/env bash
# Re-records collector/testdata/manila/rig.json from the Manila test rig:
# installs and starts the rig if needed, puts the default pools back, waits
# until the API shows them, records, and stops the rig again if this script
# started it. Run as root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rig=$(dirname "$here")
source "$rig/lib.sh"

"$rig/install.sh"
started=false
if ! pid_alive api; then started=true; fi
"$rig/start.sh" >/dev/null
if $started; then trap '"$rig/stop.sh"' EXIT; fi
cp "$rig/pools.default.json" "$MANILA_RIG_POOLS"
"$rig/ctl.sh" refresh 120
"$PY" "$here/record.py" --url "http://127.0.0.1:$MANILA_PORT" "$@"

#!/usr/bin/env bash
# The real-server suite: installs Debian's Placement (and Manila) on
# loopback, then runs the end-to-end tests (build tag e2e) against them with
# the built exporter. Everything it starts is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

"$here/placement/install.sh"
cleanup() {
	"$here/placement/stop.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cd "$repo"
go test -tags e2e -count=1 -v -timeout 40m ./e2e/ "$@"

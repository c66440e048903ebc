#!/usr/bin/env bash
# The real-server suite: installs Debian's Placement, Manila, Cinder and Nova
# with Glance (with RabbitMQ and PostgreSQL), Keystone and Prometheus, starts them on 127.0.0.1, and runs the
# end-to-end tests (build tag e2e) against them with the built exporter.
# Everything it starts is stopped on exit. Extra arguments go to go test
# (e.g. -run Placement).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

"$here/placement/install.sh"
"$here/manila/install.sh"
"$here/cinder/install.sh"
"$here/nova/install.sh"
"$here/keystone/install.sh"
PROMETHEUS_BIN="$(dirname "$(bash "$repo/.ci/install-promtool.sh")")/prometheus"
export PROMETHEUS_BIN

cleanup() {
	"$here/placement/stop.sh" >/dev/null 2>&1 || true
	"$here/manila/stop.sh" >/dev/null 2>&1 || true
	"$here/cinder/stop.sh" >/dev/null 2>&1 || true
	"$here/nova/stop.sh" >/dev/null 2>&1 || true
	"$here/keystone/stop-placement.sh" >/dev/null 2>&1 || true
	"$here/keystone/stop.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$here/manila/start.sh"
"$here/cinder/start.sh"

cd "$repo"
go test -tags e2e -count=1 -v -timeout 60m ./e2e/ "$@"

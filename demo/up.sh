#!/usr/bin/env bash
# Starts the whole thing on this machine, on 127.0.0.1 only: Debian's real
# Placement (seeded with e2e/placement/seed's 7-provider test cloud) and
# Manila (six pools on two share hosts), the exporter polling both with
# examples/config.yml, and Debian's Prometheus scraping it with
# examples/prometheus.yml and the alerting rules loaded. Waits until
# Prometheus has scraped the exporter and both collectors are up, then
# prints the URLs to open. demo/down.sh stops it all.
#
# Needs root on Debian 12 (bookworm): it installs python3-placement,
# python3-manila, PostgreSQL 15, RabbitMQ and the prometheus package's
# binaries and classic web UI (starting none of Debian's services); and Go
# (go.mod's version, 1.26) to build the exporter. About a minute once
# installed.
#
# Ports and the state directory (logs, configuration): demo/lib.sh
# (DEMO_STATE_DIR, default /tmp/oce-demo; DEMO_*_PORT). Running it again
# restarts the demo with a fresh Placement.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fail() { demo_log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root: it installs Debian packages and runs PostgreSQL and RabbitMQ for Manila (try: sudo $0)"
codename=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || codename=
[ "$codename" = bookworm ] || fail "needs Debian 12 (bookworm), found '${codename:-no /etc/os-release}': Placement 8.0 and Manila 15.1 come from its archive"
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || fail "needs Go (go.mod: 1.26) to build the exporter; put it in PATH or /usr/local/go"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

started=$SECONDS
step=""
# at STEP: says what comes next, and how long the demo has taken so far.
at() {
	step=$1
	demo_log "$step ($((SECONDS - started)) s)"
}
finish() {
	local rc=$?
	if ((rc != 0)); then
		demo_log "failed while: $step (logs under $DEMO_STATE_DIR); stopping what was started"
		stop_all >/dev/null 2>&1 || true
	fi
}
trap finish EXIT

mkdir -p "$DEMO_STATE_DIR"/{bin,exporter,prometheus}

at "stopping an earlier demo"
stop_pidfile "$DEMO_STATE_DIR/prometheus/prometheus.pid" prometheus
stop_pidfile "$DEMO_STATE_DIR/exporter/exporter.pid" openstack-capacity-exporter

at "installing Debian's Placement, Manila and Prometheus"
"$REPO/e2e/placement/install.sh" >&2
"$REPO/e2e/manila/install.sh" >&2
# With the classic web UI Debian's binary serves (.ci/install-promtool.sh).
prometheus_bin="$(dirname "$(PROMETHEUS_WEB_UI=1 bash "$REPO/.ci/install-promtool.sh")")/prometheus"

at "building the exporter and the seed tool"
(cd "$REPO" && go build -o "$DEMO_STATE_DIR/bin/openstack-capacity-exporter" ./cmd/openstack-capacity-exporter &&
	go build -o "$DEMO_STATE_DIR/bin/placement-seed" ./e2e/placement/seed)

at "starting Placement on 127.0.0.1:$DEMO_PLACEMENT_PORT"
placement_url=$(in_placement "$REPO/e2e/placement/start.sh")
at "seeding the sample cloud into Placement"
"$DEMO_STATE_DIR/bin/placement-seed" -endpoint "$placement_url" -token "$DEMO_TOKEN" cloud >&2

at "starting Manila on 127.0.0.1:$DEMO_MANILA_PORT (PostgreSQL, RabbitMQ, api, scheduler, two share hosts)"
manila_url=$(in_manila "$REPO/e2e/manila/start.sh")

# Cinder: start the demo's Cinder rig here (e2e/cinder/start.sh on the
# ports kept free in lib.sh), add its cinder_endpoint_override (or the
# service type the collector reads) to clouds.yaml below and
# --collector.cinder to the exporter's flags, and stop it in stop_all.

at "starting the exporter on 127.0.0.1:$DEMO_EXPORTER_PORT"
umask 077
cat >"$DEMO_STATE_DIR/exporter/clouds.yaml" <<CLOUDS
# Written by demo/up.sh: the demo's noauth Placement and Manila.
clouds:
  demo:
    auth_type: admin_token
    auth: {token: "$DEMO_TOKEN"}
    placement_endpoint_override: $placement_url
    shared_file_system_endpoint_override: $manila_url/v2/$DEMO_PROJECT
CLOUDS
cp "$REPO/examples/config.yml" "$DEMO_STATE_DIR/exporter/config.yml"
exporter_url="http://127.0.0.1:$DEMO_EXPORTER_PORT"
start_detached "$DEMO_STATE_DIR/exporter/exporter.pid" "$DEMO_STATE_DIR/exporter/exporter.log" "$DEMO_STATE_DIR/exporter" \
	env OS_CLIENT_CONFIG_FILE="$DEMO_STATE_DIR/exporter/clouds.yaml" OS_CLOUD= \
	"$DEMO_STATE_DIR/bin/openstack-capacity-exporter" \
	--os-cloud demo --config.file "$DEMO_STATE_DIR/exporter/config.yml" \
	--collector.placement --collector.manila \
	--web.listen-address "127.0.0.1:$DEMO_EXPORTER_PORT" --web.enable-lifecycle
at "waiting for openstack_placement_up 1 and openstack_manila_up 1 (log: $DEMO_STATE_DIR/exporter/exporter.log)"
"$DEMO_DIR/wait.py" exporter "$exporter_url" 60 openstack_placement_up openstack_manila_up

at "starting Prometheus on 127.0.0.1:$DEMO_PROMETHEUS_PORT"
prom_dir=$DEMO_STATE_DIR/prometheus
cp "$REPO/alerts/openstack-capacity.rules.yaml" "$prom_dir/"
# examples/prometheus.yml with the demo's target, and a 5 s scrape (4 s
# timeout) and rule evaluation so the first scrape comes within seconds.
sed -e "s/\"capacity-exporter.example.com:9863\"/\"127.0.0.1:$DEMO_EXPORTER_PORT\"/" \
	-e 's/^\(  *scrape_interval:\) 30s$/\1 5s/' -e 's/^\(  *scrape_timeout:\) 10s$/\1 4s/' \
	-e 's/^\(  *evaluation_interval:\) 30s$/\1 5s/' \
	"$REPO/examples/prometheus.yml" >"$prom_dir/prometheus.yml"
for want in "127.0.0.1:$DEMO_EXPORTER_PORT" "scrape_interval: 5s" "scrape_timeout: 4s" "evaluation_interval: 5s"; do
	grep -q "$want" "$prom_dir/prometheus.yml" || fail "examples/prometheus.yml changed: the demo could not set '$want' in it"
done
"$(dirname "$prometheus_bin")/promtool" check config "$prom_dir/prometheus.yml" >&2
start_detached "$prom_dir/prometheus.pid" "$prom_dir/prometheus.log" "$prom_dir" \
	"$prometheus_bin" --config.file=prometheus.yml --storage.tsdb.path=data \
	--web.listen-address="127.0.0.1:$DEMO_PROMETHEUS_PORT"
prometheus_url="http://127.0.0.1:$DEMO_PROMETHEUS_PORT"
at "waiting for Prometheus to scrape the exporter (log: $prom_dir/prometheus.log)"
"$DEMO_DIR/wait.py" prometheus "$prometheus_url" 60 openstack-capacity

step=done
cat <<DONE
The demo runs (started in $((SECONDS - started)) s; state and logs in $DEMO_STATE_DIR):
  exporter:    $exporter_url/
  metrics:     $exporter_url/metrics
  Prometheus:  $prometheus_url/classic/graph
  targets:     $prometheus_url/classic/targets
  alerts:      $prometheus_url/classic/alerts
  Placement:   $placement_url  (noauth, X-Auth-Token: $DEMO_TOKEN)
  Manila:      $manila_url/v2/$DEMO_PROJECT  (noauth, same token)
Try: curl -s $exporter_url/metrics | grep openstack_placement_resource_provider_usage
Stop it with: demo/down.sh
DONE

#!/usr/bin/env bash
# Peak RSS of the exporter polling a synthetic cloud (fakeplacement
# -providers N) with every family on and usages re-read: VmHWM after the
# cold poll and after POLLS more, requests per poll, and /metrics latency in
# text and protobuf. The real-server figures come from e2e/scale_test.go;
# this one isolates the exporter's memory from the server's speed.
# Loopback only.
#   e2e/fakeplacement/memory.sh [N providers, default 10000] [POLLS, default 6]
set -euo pipefail
n=${1:-10000}
polls=${2:-6}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" 18998
clouds:
  fake:
    auth_type: admin_token
    auth: {token: "admin:0123456789abcdef0123456789abcdef"}
    placement_endpoint_override: http://127.0.0.1:18998
YAML
cat >"$work/config.yml" <<YAML
placement:
  interval: 10s
  timeout: 5m
  usages_max_age: 60s
  aggregates_max_age: 120s
YAML
"$work/fake" -listen 127.0.0.1:18998 -providers "$n" &
fake=$!
exporter=
trap 'kill $fake $exporter 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
OS_CLIENT_CONFIG_FILE="$work/clouds.yaml" "$work/exporter" --os-cloud fake --config.file "$work/config.yml" \
	--web.listen-address 127.0.0.1:19865 2>"$work/log" &
exporter=$!
metric() { curl -s http://127.0.0.1:19865/metrics | awk -v m="$1" '$1 == m {print $2}'; }
requests() { curl -s http://127.0.0.1:19865/metrics | awk '/^openstack_capacity_exporter_api_requests_total/ {s += $2} END {printf "%d", s}'; }
last_success() { metric 'openstack_capacity_exporter_collector_last_success_timestamp_seconds{collector="placement"}'; }
until [[ "$(last_success)" =~ ^[1-9] ]]; do sleep 0.5; done
echo "$n providers: cold poll done: $(grep VmHWM /proc/$exporter/status | tr -s ' \t' ' '), $(requests) requests"
prev=$(last_success)
for ((i = 1; i <= polls; i++)); do
	before=$(requests)
	until [[ "$(last_success)" != "$prev" ]]; do sleep 0.2; done
	prev=$(last_success)
	echo "  poll $i: $(($(requests) - before)) requests, $(metric 'openstack_capacity_exporter_collector_duration_seconds{collector="placement"}') s, $(grep VmHWM /proc/$exporter/status | tr -s ' \t' ' '), $(grep VmRSS /proc/$exporter/status | tr -s ' \t' ' ')"
done
# Prometheus 3 with native histograms: protobuf first, text as a fallback.
proto='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1'
scrapes() {
	local accept='text/plain;version=0.0.4'
	[[ $1 == protobuf ]] && accept=$proto
	for _ in 1 2 3 4 5; do curl -s -o /dev/null -H "Accept: $accept" -H 'Accept-Encoding: gzip' -w '%{content_type} %{time_total} s; ' http://127.0.0.1:19865/metrics; done
}
echo "  /metrics text, gzip, 5 scrapes: $(scrapes text)"
# A protobuf scrape makes every later poll write protobuf too.
echo "  /metrics protobuf before a poll wrote it, 5 scrapes: $(scrapes protobuf)"
for ((i = 1; i <= 3; i++)); do
	until [[ "$(last_success)" != "$prev" ]]; do sleep 0.2; done
	prev=$(last_success)
	echo "  poll writing text and protobuf: $(metric 'openstack_capacity_exporter_collector_duration_seconds{collector="placement"}') s, $(grep VmHWM /proc/$exporter/status | tr -s ' \t' ' ')"
done
echo "  /metrics protobuf, 5 scrapes: $(scrapes protobuf)"
grep -c 'level=error' "$work/log" | sed 's/^/  error lines in the log: /'

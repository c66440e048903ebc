#!/usr/bin/env bash
# Measures what a Placement endpoint streaming a 2 GB provider list costs
# the exporter: peak RSS (VmHWM), RSS after the refused poll, /metrics
# latency, and the error it logs, with the default body bound and with
# --openstack.max-response-size=64MiB. Loopback only; about 90 s.
#   e2e/fakeplacement/bigbody.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" 18999
clouds:
  hostile:
    auth_type: admin_token
    auth: {token: "admin:0123456789abcdef0123456789abcdef"}
    placement_endpoint_override: http://127.0.0.1:18999
YAML
"$work/fake" -listen 127.0.0.1:18999 -stream $((2 << 30)) &
fake=$!
trap 'kill $fake 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 0.5
for limit in default 64MiB; do
	args=()
	[[ $limit != default ]] && args=(--openstack.max-response-size="$limit")
	OS_CLIENT_CONFIG_FILE="$work/clouds.yaml" "$work/exporter" --os-cloud fake \
		--web.listen-address 127.0.0.1:19864 "${args[@]}" 2>"$work/log" &
	exporter=$!
	sleep 40
	echo "bound $limit: $(grep VmHWM /proc/$exporter/status | tr -s ' \t' ' '), after the poll $(grep VmRSS /proc/$exporter/status | tr -s ' \t' ' ')"
	for _ in 1 2 3; do
		curl -s -o /dev/null -w "  /metrics %{http_code} in %{time_total} s\n" http://127.0.0.1:19864/metrics
	done
	grep -m1 'poll failed' "$work/log" | sed 's/^/  /'
	kill $exporter
	wait $exporter 2>/dev/null || true
done

#!/usr/bin/env bash
# Copies the Prometheus rules and every Grafana dashboard into the chart: Helm
# reads no file outside a chart, and alerts/ and dashboards/ stay the one
# source. Run it after changing either; charts/chart_test.go fails while the
# copies differ.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=charts/openstack-capacity-exporter/files
mkdir -p "$files/dashboards"
cp alerts/openstack-capacity.rules.yaml "$files/openstack-capacity.rules.yaml"
# Dashboards removed from dashboards/ go from the chart too.
rm -f "$files"/dashboards/*.json
cp dashboards/*.json "$files/dashboards/"

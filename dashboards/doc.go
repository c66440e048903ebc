// Package dashboards holds the Grafana dashboards of openstack-capacity-exporter
// as JSON files; its tests check them and the Prometheus rules in ../alerts.
package dashboards

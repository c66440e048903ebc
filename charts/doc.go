// Package charts holds the Helm chart of openstack-capacity-exporter; its
// tests render the chart and check every manifest. It is a module of its
// own so that the exporter's go.mod does not carry the Kubernetes API types.
package charts

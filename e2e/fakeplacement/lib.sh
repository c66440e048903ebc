# Sourced by the measurement scripts: builds the exporter and the fake into
# $work and writes $work/clouds.yaml for a token-less cloud named fake whose
# Placement is the fake on 127.0.0.1:$1.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
cd "$repo"
go build -o "$work/exporter" ./cmd/openstack-capacity-exporter
go build -o "$work/fake" ./e2e/fakeplacement
cat >"$work/clouds.yaml" <<YAML
clouds:
  fake:
    auth_type: admin_token
    auth: {token: "admin:0123456789abcdef0123456789abcdef"}
    placement_endpoint_override: http://127.0.0.1:$1
YAML

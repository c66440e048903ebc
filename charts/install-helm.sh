#!/usr/bin/env bash
# Builds helm from the Go module proxy (Debian bookworm has no helm package)
# into a cache directory. Idempotent. Prints the helm path on stdout.
#
#   HELM_TOOLS_DIR  target directory (default /opt/oce-tools/helm)
#
# The ldflags are those of helm's own release build: without them `helm
# template` assumes Kubernetes 1.20 and `helm version` prints no patch level.
# A cold build takes about 4 minutes on 2 cores (most of it downloading).
set -euo pipefail

HELM_VERSION=v3.22.0
# The k8s.io modules helm v3.22.0 is built with (its go.mod): the Kubernetes
# version `helm template` and `helm lint` assume.
K8S_MAJOR=1
K8S_MINOR=37
TOOLS_DIR="${HELM_TOOLS_DIR:-/opt/oce-tools/helm}"

log() { echo "install-helm: $*" >&2; }

installed_ok() {
  [[ -x "$TOOLS_DIR/helm" ]] || return 1
  "$TOOLS_DIR/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"
}

if installed_ok; then
  echo "$TOOLS_DIR/helm"
  exit 0
fi

export PATH="/usr/local/go/bin:$PATH"
mkdir -p "$TOOLS_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "building helm $HELM_VERSION from the Go module proxy"
GOBIN="$work" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath \
  -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$K8S_MAJOR \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$K8S_MAJOR \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
install -m 0755 "$work/helm" "$TOOLS_DIR/helm.new"
mv -f "$TOOLS_DIR/helm.new" "$TOOLS_DIR/helm"

if ! installed_ok; then
  log "the built helm does not report $HELM_VERSION"
  "$TOOLS_DIR/helm" version >&2 || true
  exit 1
fi
log "$("$TOOLS_DIR/helm" version --short)"
echo "$TOOLS_DIR/helm"

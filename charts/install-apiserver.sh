#!/usr/bin/env bash
# Installs a real Kubernetes API server for charts/apiserver_test.go, which
# offers every rendered manifest to it (server-side dry run, strict field
# validation, Pod Security "restricted"): kube-apiserver built from the Go
# module proxy (no Debian package has one) and etcd from Debian bookworm's
# etcd-server, extracted without installing it (installing starts a daemon).
# Idempotent. Prints the directory holding kube-apiserver and etcd.
#
#   KUBE_TOOLS_DIR  target directory (default /opt/oce-tools/kube)
#
# The build takes 10 minutes of CPU (16 min wall on a busy 2-core machine),
# which is why CI does not run it.
set -euo pipefail

KUBE_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
TOOLS_DIR="${KUBE_TOOLS_DIR:-/opt/oce-tools/kube}"
APT_LOCK=/var/lock/oce-apt.lock
export DEBIAN_FRONTEND=noninteractive PATH="/usr/local/go/bin:$PATH"

log() { echo "install-apiserver: $*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$TOOLS_DIR"

if [[ ! -x "$TOOLS_DIR/kube-apiserver" ]] || ! grep -qx "$KUBE_VERSION" "$TOOLS_DIR/kube-apiserver.version" 2>/dev/null; then
  log "building kube-apiserver $KUBE_VERSION from the Go module proxy"
  # k8s.io/kubernetes points its k8s.io/* modules at ./staging, which a
  # module download does not hold: take them from the proxy at the
  # matching version instead.
  (
    cd "$work"
    printf 'module apiserverbuild\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n' "$KUBE_VERSION" > go.mod
    go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" > download.json
    gomod=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' download.json)
    {
      echo 'replace ('
      awk '$2 == "=>" && $3 ~ /^\.\/staging/ {print "\t" $1 " => " $1 " '"$STAGING_VERSION"'"}' "$gomod"
      echo ')'
    } >> go.mod
    printf '//go:build tools\n\npackage apiserverbuild\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > tools.go
    GOFLAGS=-mod=mod go mod tidy
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$TOOLS_DIR/kube-apiserver.new" k8s.io/kubernetes/cmd/kube-apiserver
  )
  mv -f "$TOOLS_DIR/kube-apiserver.new" "$TOOLS_DIR/kube-apiserver"
  echo "$KUBE_VERSION" > "$TOOLS_DIR/kube-apiserver.version"
fi

if [[ ! -x "$TOOLS_DIR/etcd" ]]; then
  log "extracting etcd from Debian's etcd-server"
  if ! apt-cache policy etcd-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    flock "$APT_LOCK" apt-get update -qq
  fi
  chmod 755 "$work"
  if id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
  (cd "$work" && flock "$APT_LOCK" apt-get download -qq etcd-server)
  dpkg-deb -x "$work"/etcd-server_*.deb "$work/root"
  install -m 0755 "$work/root/usr/bin/etcd" "$TOOLS_DIR/etcd"
fi
log "$("$TOOLS_DIR/etcd" --version | head -1), kube-apiserver $(cat "$TOOLS_DIR/kube-apiserver.version")"
echo "$TOOLS_DIR"

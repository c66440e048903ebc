#!/usr/bin/env bash
# Installs promtool (and the prometheus server binary from the same package)
# from Debian bookworm's `prometheus` package into a private tools directory,
# without installing the package: installing it would start the daemon on
# 0.0.0.0:9090. Idempotent. Prints the promtool path on stdout.
#
#   PROMETHEUS_TOOLS_DIR  target directory (default /opt/oce-tools/prometheus)
#   PROMETHEUS_WEB_UI=1   also the package's web UI (demo/up.sh wants it):
#                         Debian's binary serves the classic UI from
#                         /usr/share/prometheus/web only (built in), whose
#                         files link into the libjs-* packages it depends on.
#                         Those packages (static files, no services) are
#                         installed and the directory is copied there, unless
#                         the prometheus package already provides it.
#
# Result: $PROMETHEUS_TOOLS_DIR/promtool and $PROMETHEUS_TOOLS_DIR/prometheus.
set -euo pipefail

TOOLS_DIR="${PROMETHEUS_TOOLS_DIR:-/opt/oce-tools/prometheus}"
WANT_VERSION_PREFIX="2.42."
APT_LOCK=/var/lock/oce-apt.lock
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-promtool: $*" >&2; }

WEB_DIR=/usr/share/prometheus/web
installed_ok() {
  [[ -x "$TOOLS_DIR/promtool" && -x "$TOOLS_DIR/prometheus" ]] || return 1
  if [[ "${PROMETHEUS_WEB_UI:-}" == 1 && ! -s "$WEB_DIR/templates/_base.html" ]]; then return 1; fi
  "$TOOLS_DIR/promtool" --version 2>&1 | grep -q "version ${WANT_VERSION_PREFIX}"
}

if installed_ok; then
  echo "$TOOLS_DIR/promtool"
  exit 0
fi

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_locked() {
  as_root flock "$APT_LOCK" "$@"
}

# flock(1) is in util-linux, which is Essential on Debian.
candidate=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
  log "no package list knows 'prometheus' yet; running apt-get update"
  apt_locked apt-get update -qq
  candidate=$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')
fi
case "$candidate" in
  ${WANT_VERSION_PREFIX}*) ;;
  *) log "expected prometheus ${WANT_VERSION_PREFIX}x (Debian bookworm), apt offers '${candidate}'"; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for downloads; let it write the directory.
chmod 755 "$work"
if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
if ! (cd "$work" && apt_locked apt-get download -qq "prometheus=${candidate}"); then
  # Stale package lists name versions the archive no longer has.
  log "download failed; refreshing the package lists and trying once more"
  apt_locked apt-get update -qq
  candidate=$(apt-cache policy prometheus | awk '/Candidate:/ {print $2}')
  (cd "$work" && apt_locked apt-get download -qq "prometheus=${candidate}")
fi
deb=$(ls "$work"/prometheus_*.deb)
dpkg-deb -x "$deb" "$work/root"

as_root mkdir -p "$TOOLS_DIR"
for bin in promtool prometheus; do
  as_root install -m 0755 "$work/root/usr/bin/$bin" "$TOOLS_DIR/$bin.new"
  as_root mv -f "$TOOLS_DIR/$bin.new" "$TOOLS_DIR/$bin"
done

if [[ "${PROMETHEUS_WEB_UI:-}" == 1 && ! -s "$WEB_DIR/templates/_base.html" ]]; then
  # The package's Depends minus what the binaries need (libc6, adduser).
  ui_deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -E '^(libjs-|fonts-)')
  # shellcheck disable=SC2086
  as_root bash "$(dirname "${BASH_SOURCE[0]}")/../e2e/apt-install.sh" prometheus-ui $ui_deps >&2
  as_root mkdir -p "$(dirname "$WEB_DIR")"
  as_root cp -a "$work/root$WEB_DIR" "$(dirname "$WEB_DIR")/"
  log "web UI in $WEB_DIR"
fi

if ! installed_ok; then
  log "installed binaries do not report version ${WANT_VERSION_PREFIX}x"
  "$TOOLS_DIR/promtool" --version >&2 || true
  exit 1
fi
log "$("$TOOLS_DIR/promtool" --version 2>&1 | head -1)"
echo "$TOOLS_DIR/promtool"

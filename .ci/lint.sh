#!/usr/bin/env bash
# The static checks, shared by CI (.ci/run) and `make lint`: gofmt, go vet
# (the e2e suite too), and promtool 2.42 from Debian on the alerting rules,
# their tests and every golden file (the exporter's own output, so every
# metric name must pass, with no exception).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() { printf '\n=== %s\n' "$*"; }
# Tracked files and new ones not yet added (a clean checkout has none), as
# far as they exist.
files() {
	git ls-files --cached --others --exclude-standard "$1" |
		while read -r f; do if [[ -e "$f" ]]; then echo "$f"; fi; done
}

section "Static checks: gofmt, go vet"
unformatted="$(gofmt -l $(files '*.go'))"
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go vet -tags e2e ./e2e/

section "Prometheus rules and metric names (promtool 2.42 from Debian)"
promtool="$(bash .ci/install-promtool.sh)"
"$promtool" check rules alerts/openstack-capacity.rules.yaml alerts/tests/fixtures/*.yaml
"$promtool" test rules alerts/tests/*.yaml
for golden in $(files '*.prom'); do
	problems="$("$promtool" check metrics <"$golden" 2>&1 || true)"
	if [[ -n "$problems" ]]; then
		echo "$golden:"; echo "$problems"; exit 1
	fi
done

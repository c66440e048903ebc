#!/usr/bin/env bash
# Installs what the Placement test rig needs: the Placement application from
# Debian's python3-placement and uwsgi to serve it. The placement-api and
# placement-common packages are avoided on purpose: the first starts a uwsgi
# on all interfaces, the second asks debconf to set up a database.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/../apt-install.sh" placement \
	python3-placement uwsgi-core uwsgi-plugin-python3

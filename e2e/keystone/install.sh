#!/usr/bin/env bash
# Installs what the Keystone test rig needs: Debian's python3-keystone (the
# identity service as a library; it pulls in python3-openstackclient and
# keystonemiddleware) and uwsgi to serve it. The `keystone` package is
# avoided on purpose: it asks debconf to set up a database and its init
# script starts uwsgi on all interfaces. Placement itself comes from
# ../placement/install.sh.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/../apt-install.sh" keystone \
	python3-keystone python3-keystonemiddleware python3-openstackclient uwsgi-core uwsgi-plugin-python3

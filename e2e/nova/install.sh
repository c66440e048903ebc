#!/usr/bin/env bash
# Installs what the Nova test rig needs from Debian bookworm: the Nova and
# Glance Python packages only (python3-nova, python3-glance 2:25.1.0, Zed;
# not nova-common/nova-api/nova-compute… nor glance-common/glance-api, whose
# scripts set up a database through dbconfig and debconf, and start
# services: glance-api's would serve uwsgi on every interface), the
# psycopg2 driver, RabbitMQ and PostgreSQL 15, and the Placement rig's
# packages (Nova's computes report to a real Placement). start.sh runs
# everything itself, on 127.0.0.1 only. On this bookworm image: 97 packages
# for Placement and 148 for python3-nova etc. (3 min), then 33 more for
# python3-glance (29 s).
# Idempotent; quick when everything is installed. Run as root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Package scripts must not start RabbitMQ or PostgreSQL (they would listen
# on every interface; python3-glance starts nothing): a policy-rc.d says no while we install, unless
# another installer already put one there (then it is theirs to remove).
policy=/usr/sbin/policy-rc.d
own_policy=false
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT
if [[ ! -e "$policy" && "$(id -u)" == 0 ]]; then
	printf '#!/bin/sh\n# oce nova rig: keep package scripts from starting services\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=true
fi

"$here/../placement/install.sh"
"$here/../apt-install.sh" nova python3-nova python3-glance python3-psycopg2 rabbitmq-server postgresql-15

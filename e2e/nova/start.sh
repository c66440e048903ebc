#!/usr/bin/env bash
# Starts the Nova test rig on 127.0.0.1: its own PostgreSQL cluster
# (nova_api, nova_cell0, nova, glance), RabbitMQ node, Placement (the
# e2e/placement rig, state in $STATE_DIR/placement) and Glance (glance-api,
# no Keystone, file store in $STATE_DIR/glance/images), then nova-api
# (eventlet, noauth2), nova-conductor, nova-scheduler and one nova-compute
# per host of $STATE_DIR/computes.json (fake driver with those resources:
# rig_driver.py), maps the computes into cell1 and uploads the image
# rig-image (its id in $STATE_DIR/glance/image-id). Idempotent: what runs
# already is left running. Needs install.sh first. Run as root.
#
# Environment: NOVA_PORT (18774), STATE_DIR (/tmp/oce-e2e/nova),
# NOVA_RIG_PG_PORT (15462), NOVA_RIG_RABBIT_PORT (15712),
# NOVA_RIG_RABBIT_DIST_PORT (15713), NOVA_RIG_EPMD_PORT (14372),
# NOVA_RIG_PLACEMENT_PORT (18781), NOVA_RIG_GLANCE_PORT (19292),
# NOVA_RIG_COMPUTES (the computes file,
# $STATE_DIR/computes.json, copied from computes.default.json when absent),
# NOVA_RIG_RESOURCES_INTERVAL (10 s between resource updates of a compute;
# Nova's default is 60), NOVA_RIG_WAIT (180 s to wait for the computes).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "start.sh must run as root"
[ -x "$PG_BIN/initdb" ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && command -v uwsgi >/dev/null &&
	"$PY" -c 'import nova, psycopg2, placement, glance' 2>/dev/null || die "run install.sh first"
WAIT=${NOVA_RIG_WAIT:-180}
t0=$(date +%s.%N)

mkdir -p "$STATE_DIR" "$LOGS" "$RUN" "$STATE_DIR/lock" "$STATE_DIR/rabbitmq"
chmod 755 "$STATE_DIR"
[ -e "$NOVA_RIG_COMPUTES" ] || cp "$RIG_DIR/computes.default.json" "$NOVA_RIG_COMPUTES"
mapfile -t HOSTS < <(compute_hosts)

wait_port() { # wait_port PORT SECONDS WHAT
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		if "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	die "$3 did not listen on 127.0.0.1:$1 in $2 s (logs: $LOGS)"
}

### PostgreSQL: a cluster of our own, run by the postgres user.
PGDATA=$STATE_DIR/pgdata
PGSOCK=$STATE_DIR/pgsock
pg() { runuser -u postgres -- "$@"; }
fresh=false
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	fresh=true
	rm -rf "$PGDATA" "$STATE_DIR/db-synced" "$GLANCE_DIR"
	install -d -o postgres -g postgres -m 700 "$PGDATA"
	pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.out" 2>&1 || {
		cat "$LOGS/initdb.out" >&2
		die "initdb failed"
	}
fi
install -d -o postgres -g postgres -m 755 "$PGSOCK"
touch "$LOGS/postgresql.log" && chown postgres "$LOGS/postgresql.log"
if ! pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
	pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGS/postgresql.log" -w -t 60 start \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PGSOCK -c fsync=off -c max_connections=200" >/dev/null
	log "postgresql started on 127.0.0.1:$PG_PORT"
fi
psql_q() { pg psql -h "$PGSOCK" -p "$PG_PORT" -U postgres -d postgres -XtAq -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql_q -c "SELECT 1 FROM pg_roles WHERE rolname='nova'")" != 1 ]; then
	psql_q -c "CREATE ROLE nova LOGIN PASSWORD 'nova'"
fi
for db in nova_api nova_cell0 nova; do
	if [ "$(psql_q -c "SELECT 1 FROM pg_database WHERE datname='$db'")" != 1 ]; then
		psql_q -c "CREATE DATABASE $db OWNER nova"
	fi
done
if [ "$(psql_q -c "SELECT 1 FROM pg_roles WHERE rolname='glance'")" != 1 ]; then
	psql_q -c "CREATE ROLE glance LOGIN PASSWORD 'glance'"
fi
if [ "$(psql_q -c "SELECT 1 FROM pg_database WHERE datname='glance'")" != 1 ]; then
	psql_q -c "CREATE DATABASE glance OWNER glance"
fi

### Glance: glance-api from python3-glance (eventlet), paste pipeline
### without Keystone (unauthenticated-context: every request is an admin
### with no project), file store under $GLANCE_DIR/images.
mkdir -p "$GLANCE_DIR/images" "$GLANCE_DIR/staging" "$GLANCE_DIR/tasks" "$GLANCE_DIR/cache" "$GLANCE_DIR/lock"
# Zed's glance-api-paste.ini, its default pipeline (no flavor) less cors,
# http_proxy_to_wsgi and osprofiler; python3-glance ships none (glance-common
# would put one in /etc/glance).
cat >"$GLANCE_DIR/glance-api-paste.ini" <<'PASTE'
[pipeline:glance-api]
pipeline = versionnegotiation unauthenticated-context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:unauthenticated-context]
paste.filter_factory = glance.api.middleware.context:UnauthenticatedContextMiddleware.factory
PASTE
# Image properties beyond Glance's own: none (glance-api looks for this file
# next to its config file and logs a warning without it).
echo '{}' >"$GLANCE_DIR/schema-image.json"
cat >"$GLANCE_CONF" <<CONFEOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $GLANCE_PORT
# 0: serve in the one process (no forked workers).
workers = 0
debug = false
use_stderr = false
enabled_backends = fs:file
image_cache_dir = $GLANCE_DIR/cache
# No import tasks run here, but the import methods stay Zed's defaults.

[database]
connection = postgresql+psycopg2://glance:glance@127.0.0.1:$PG_PORT/glance

[paste_deploy]
config_file = $GLANCE_DIR/glance-api-paste.ini

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $GLANCE_DIR/images

[os_glance_staging_store]
filesystem_store_datadir = $GLANCE_DIR/staging

[os_glance_tasks_store]
filesystem_store_datadir = $GLANCE_DIR/tasks

[oslo_concurrency]
lock_path = $GLANCE_DIR/lock

[oslo_messaging_notifications]
# No notifications (they would go to a RabbitMQ on localhost:5672).
driver = noop
CONFEOF
if [ ! -e "$GLANCE_DIR/db-synced" ]; then
	glance_manage db_sync >"$LOGS/glance-manage.out" 2>&1 || {
		cat "$LOGS/glance-manage.out" >&2
		die "glance-manage db_sync failed"
	}
	touch "$GLANCE_DIR/db-synced"
	log "glance database synced"
fi
glance_start

### RabbitMQ: a node of our own (root, state under STATE_DIR, epmd on its own port).
(
rabbit_env
[ -e "$RABBITMQ_CONF_ENV_FILE" ] || : >"$RABBITMQ_CONF_ENV_FILE"
[ -e "$RABBITMQ_CONFIG_FILE" ] || printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\n' "$RABBIT_PORT" >"$RABBITMQ_CONFIG_FILE"
[ -e "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
if [ ! -s "$HOME/.erlang.cookie" ]; then
	"$PY" -c 'import secrets; print(secrets.token_hex(16).upper(), end="")' >"$HOME/.erlang.cookie"
	chmod 400 "$HOME/.erlang.cookie"
fi
start_bg rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
)

### Placement: the e2e/placement rig, its database kept with ours (a fresh
### Nova database gets a fresh Placement).
if ! "$PY" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$PLACEMENT_URL/" 2>/dev/null; then
	keep=1
	$fresh && keep=
	# A fixed hash seed keeps Placement's trait lists in one order across
	# restarts (as e2e/placement/record.sh does), for the recordings.
	PYTHONHASHSEED=0 PLACEMENT_PORT=$PLACEMENT_PORT_NOVA STATE_DIR=$PLACEMENT_STATE PLACEMENT_KEEP_DB=$keep \
		"$RIG_DIR/../placement/start.sh" >/dev/null
	log "placement started on $PLACEMENT_URL"
fi
wait_port "$RABBIT_PORT" 60 RabbitMQ

### Nova configuration.
# Nova's api-paste.ini (Zed), the noauth2 pipelines only, plus rig_paste.py's
# filter after noauth2; python3-nova ships none (nova-common would put one in
# /etc/nova).
cat >"$STATE_DIR/api-paste.ini" <<'PASTE'
[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: oscomputeversions
/v2: oscomputeversion_legacy_v2
/v2.1: oscomputeversion_v2
/v2/+: openstack_compute_api_v21_legacy_v2_compatible
/v2.1/+: openstack_compute_api_v21

[composite:openstack_compute_api_v21]
use = call:nova.api.auth:pipeline_factory_v21
keystone = compute_req_id faultwrap request_log sizelimit noauth2 rigtoken osapi_compute_app_v21
noauth2 = compute_req_id faultwrap request_log sizelimit noauth2 rigtoken osapi_compute_app_v21

[composite:openstack_compute_api_v21_legacy_v2_compatible]
use = call:nova.api.auth:pipeline_factory_v21
keystone = compute_req_id faultwrap request_log sizelimit noauth2 rigtoken legacy_v2_compatible osapi_compute_app_v21
noauth2 = compute_req_id faultwrap request_log sizelimit noauth2 rigtoken legacy_v2_compatible osapi_compute_app_v21

[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory

[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory

[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory

[filter:noauth2]
paste.filter_factory = nova.api.openstack.auth:NoAuthMiddleware.factory

[filter:rigtoken]
# rig_paste.py: the X-Auth-Token into the context, for Glance.
paste.filter_factory = rig_paste:TokenInContext.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory

[filter:legacy_v2_compatible]
paste.filter_factory = nova.api.openstack:LegacyV2CompatibleWrapper.factory

[app:osapi_compute_app_v21]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory

[pipeline:oscomputeversions]
pipeline = faultwrap request_log oscomputeversionapp

[pipeline:oscomputeversion_v2]
pipeline = compute_req_id faultwrap request_log oscomputeversionapp_v2

[pipeline:oscomputeversion_legacy_v2]
pipeline = compute_req_id faultwrap request_log legacy_v2_compatible oscomputeversionapp_v2

[app:oscomputeversionapp]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory

[app:oscomputeversionapp_v2]
paste.app_factory = nova.api.openstack.compute.versions:VersionsV2.factory
PASTE

cat >"$CONF" <<CONFEOF
[DEFAULT]
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = $NOVA_PORT
osapi_compute_workers = 1
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
state_path = $STATE_DIR
my_ip = 127.0.0.1
host = rig-control
compute_driver = rig_driver.RigDriver
debug = false
use_stderr = false
# Heartbeats every 2 s; a service silent for 10 s counts as down.
report_interval = 2
service_down_time = 10
periodic_fuzzy_delay = 0
update_resources_interval = ${NOVA_RIG_RESOURCES_INTERVAL:-10}
# No console, no metadata, no Cinder, no real Neutron (fake_neutron.py).
# Servers boot with "networks": "none" (2.37+) from the rig's Glance.
[vnc]
enabled = false
[spice]
enabled = false
[serial_console]
enabled = false

[api]
auth_strategy = noauth2

[wsgi]
api_paste_config = $STATE_DIR/api-paste.ini

[glance]
# noauth2 gives an empty service catalog: nova-api (image checks) and the
# computes go straight to the rig's Glance.
endpoint_override = $GLANCE_URL

[neutron]
# fake_neutron.py (see there why Nova needs one for servers without
# networks). The context's token goes as the user's; admin_token for
# Nova's admin client.
endpoint_override = $NEUTRON_URL
auth_type = admin_token
token = admin

[quota]
# Boot until Placement is full, not until a quota says no.
instances = -1
cores = -1
ram = -1

[placement]
# The rig's Placement runs noauth2: any token whose user part is admin.
auth_type = admin_token
endpoint = $PLACEMENT_URL
token = admin

[conductor]
workers = 1

[scheduler]
workers = 1

[oslo_concurrency]
lock_path = $STATE_DIR/lock

[oslo_messaging_rabbit]
rabbit_ha_queues = false
CONFEOF
# The databases, for the control services and nova-manage only: a compute
# with [api_database] logs "No DB access allowed in nova-compute" tracebacks
# (it reaches its cell's database through the conductor).
cat >"$DB_CONF" <<CONFEOF
[api_database]
connection = postgresql+psycopg2://nova:nova@127.0.0.1:$PG_PORT/nova_api

[database]
connection = postgresql+psycopg2://nova:nova@127.0.0.1:$PG_PORT/nova
CONFEOF
for h in "${HOSTS[@]}"; do
	mkdir -p "$STATE_DIR/compute/$h/instances"
	{
		printf '[DEFAULT]\nhost = %s\ninstances_path = %s\n' "$h" "$STATE_DIR/compute/$h/instances"
		# The host's "config" of the computes file (reserved_host_*,
		# *_allocation_ratio…).
		"$PY" -c 'import json,sys; [print("%s = %s" % kv) for kv in json.load(open(sys.argv[1]))[sys.argv[2]].get("config", {}).items()]' "$NOVA_RIG_COMPUTES" "$h"
	} >"$STATE_DIR/compute-$h.conf"
done

### Nova databases: API, cell0, cell1 (mapped to our RabbitMQ and database).
if [ ! -e "$STATE_DIR/db-synced" ]; then
	nova_manage api_db sync
	nova_manage cell_v2 map_cell0
	nova_manage cell_v2 list_cells | grep -q ' cell1 ' || nova_manage cell_v2 create_cell --name cell1
	nova_manage db sync
	touch "$STATE_DIR/db-synced"
	log "databases synced"
fi

### Services.
neutron_start
conductor_start
scheduler_start
api_start
for h in "${HOSTS[@]}"; do compute_start "$h"; done
wait_port "$NOVA_PORT" 60 nova-api
wait_port "$GLANCE_PORT" 60 glance-api
wait_port "$NEUTRON_PORT" 10 fake_neutron.py
"$PY" "$RIG_DIR/rigapi.py" --glance "$GLANCE_URL" ensure-image "$GLANCE_DIR/image-id" >/dev/null
log "image rig-image: $(cat "$GLANCE_DIR/image-id")"
"$PY" "$RIG_DIR/rigapi.py" --url "http://127.0.0.1:$NOVA_PORT" --placement "$PLACEMENT_URL" \
	wait-computes "$WAIT" "${HOSTS[@]}" --discover "$STATE_DIR"
log "up in $("$PY" -c "import sys,time; print(round(time.time()-float(sys.argv[1]),1))" "$t0") s"
echo "http://127.0.0.1:$NOVA_PORT"

#!/usr/bin/env bash
# Starts the Cinder test rig on 127.0.0.1: its own PostgreSQL cluster and
# RabbitMQ node, then cinder api (noauth), scheduler and two volume services
# (rig-vol1: back ends alpha and beta; rig-vol10: alpha) whose pools come
# from $STATE_DIR/pools.json (see rig_driver.py), and the volume types gold,
# silver and tiny. Idempotent: what runs already is left running. Needs
# install.sh first. Run as root.
#
# Environment: CINDER_PORT (18776), STATE_DIR (/tmp/oce-e2e/cinder),
# CINDER_RIG_PG_PORT (15442), CINDER_RIG_RABBIT_PORT (15692),
# CINDER_RIG_RABBIT_DIST_PORT (15693), CINDER_RIG_EPMD_PORT (14370),
# CINDER_RIG_REPORT_INTERVAL (2 s between capability reports),
# CINDER_RIG_RPC_TIMEOUT (rpc_response_timeout, Cinder's default 60),
# CINDER_RIG_WAIT (120 s to wait for the pools).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "start.sh must run as root"
[ -x "$PG_BIN/initdb" ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] &&
	"$PY" -c 'import cinder' 2>/dev/null || die "run install.sh first"
WAIT=${CINDER_RIG_WAIT:-120}

mkdir -p "$STATE_DIR" "$LOGS" "$RUN" "$STATE_DIR/lock" "$STATE_DIR/rabbitmq" "$CINDER_RIG_LEDGER_DIR"
chmod 755 "$STATE_DIR"
[ -e "$CINDER_RIG_POOLS" ] || cp "$RIG_DIR/pools.default.json" "$CINDER_RIG_POOLS"

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
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	rm -rf "$PGDATA"
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
if [ "$(psql_q -c "SELECT 1 FROM pg_roles WHERE rolname='cinder'")" != 1 ]; then
	psql_q -c "CREATE ROLE cinder LOGIN PASSWORD 'cinder'"
fi
if [ "$(psql_q -c "SELECT 1 FROM pg_database WHERE datname='cinder'")" != 1 ]; then
	psql_q -c "CREATE DATABASE cinder OWNER cinder"
fi

### RabbitMQ: a node of our own (root, state under STATE_DIR, epmd on its own port).
rabbit_env
[ -e "$RABBITMQ_CONF_ENV_FILE" ] || : >"$RABBITMQ_CONF_ENV_FILE"
[ -e "$RABBITMQ_CONFIG_FILE" ] || printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\n' "$RABBIT_PORT" >"$RABBITMQ_CONFIG_FILE"
[ -e "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
if [ ! -s "$HOME/.erlang.cookie" ]; then
	"$PY" -c 'import secrets; print(secrets.token_hex(16).upper(), end="")' >"$HOME/.erlang.cookie"
	chmod 400 "$HOME/.erlang.cookie"
fi
start_bg rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
wait_port "$RABBIT_PORT" 120 RabbitMQ

### Cinder configuration.
# Debian ships api-paste.ini and resource_filters.json in cinder-common (not
# installed: its scripts want dbconfig); these are upstream's, trimmed to the
# noauth pipeline.
cat >"$STATE_DIR/api-paste.ini" <<PASTE
[composite:osapi_volume]
use = call:cinder.api:root_app_factory
/: apiversions
/v3: openstack_volume_api_v3

[composite:openstack_volume_api_v3]
use = call:cinder.api.middleware.auth:pipeline_factory
noauth = request_id faultwrap sizelimit noauth apiv3
keystone = request_id faultwrap sizelimit noauth apiv3

[filter:request_id]
paste.filter_factory = cinder.api.middleware.request_id:RequestId.factory

[filter:faultwrap]
paste.filter_factory = cinder.api.middleware.fault:FaultWrapper.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware.sizelimit:RequestBodySizeLimiter.factory

[filter:noauth]
paste.filter_factory = cinder.api.middleware.auth:NoAuthMiddleware.factory

[app:apiv3]
paste.app_factory = cinder.api.v3.router:APIRouter.factory

[pipeline:apiversions]
pipeline = request_id faultwrap osvolumeversionapp

[app:osvolumeversionapp]
paste.app_factory = cinder.api.versions:Versions.factory
PASTE

# Upstream's etc/cinder/resource_filters.json (21.3.1): from 3.31 on, the
# pools API accepts only the filters listed for "pool".
cat >"$STATE_DIR/resource_filters.json" <<'FILTERS'
{
    "volume": ["name", "status", "metadata",
               "bootable", "migration_status", "availability_zone",
               "group_id", "size", "created_at", "updated_at",
               "consumes_quota"],
    "backup": ["name", "status", "volume_id"],
    "snapshot": ["name", "status", "volume_id", "metadata",
                 "availability_zone", "consumes_quota"],
    "group": ["name"],
    "group_snapshot": ["name", "status", "group_id"],
    "attachment": ["volume_id", "status", "instance_id", "attach_status"],
    "message": ["resource_uuid", "resource_type", "event_id",
                "request_id", "message_level"],
    "pool": ["name", "volume_type"],
    "volume_type": ["is_public", "extra_specs"]
}
FILTERS

cat >"$CONF" <<CONFEOF
[DEFAULT]
auth_strategy = noauth
api_paste_config = $STATE_DIR/api-paste.ini
resource_query_filters_file = $STATE_DIR/resource_filters.json
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $CINDER_PORT
osapi_volume_workers = 1
my_ip = 127.0.0.1
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
rpc_response_timeout = ${CINDER_RIG_RPC_TIMEOUT:-60}
state_path = $STATE_DIR
debug = false
use_stderr = false
# Heartbeats every 2 s; a volume service silent for 10 s counts as down.
report_interval = 2
service_down_time = 10
periodic_interval = 1
periodic_fuzzy_delay = 0
# The smallest allowed (3); rig_driver.py shortens the report task further.
backend_stats_polling_interval = 3
# The scheduler waits at most this long at start for every volume service's
# first report.
scheduler_driver_init_wait_time = 10
enable_v3_api = true
# No quota (the default quota class, which db sync writes, allows 10 volumes
# a project): filling pools until the scheduler refuses must meet the
# CapacityFilter, not the quota.
use_default_quota_class = false
quota_volumes = -1
quota_gigabytes = -1
quota_snapshots = -1

[database]
connection = postgresql+psycopg2://cinder:cinder@127.0.0.1:$PG_PORT/cinder

[oslo_concurrency]
lock_path = $STATE_DIR/lock

[oslo_messaging_rabbit]
rabbit_ha_queues = false

[coordination]
backend_url = file://$STATE_DIR/lock

[alpha]
volume_driver = rig_driver.RigDriver
volume_backend_name = alpha

[beta]
volume_driver = rig_driver.RigDriver
volume_backend_name = beta
CONFEOF
for h in "${VOLUME_HOSTS[@]}"; do
	printf '[DEFAULT]\nhost = %s\nenabled_backends = %s\n' "$h" "${VOLUME_BACKENDS[$h]}" >"$STATE_DIR/volume-$h.conf"
done

### Cinder database and services.
if [ ! -e "$STATE_DIR/db-synced" ]; then
	"$PY" "$RIG_DIR/cinder_cmd.py" manage --config-file "$CONF" --log-file "$LOGS/manage.log" db sync
	touch "$STATE_DIR/db-synced"
fi
api_start
scheduler_start
for h in "${VOLUME_HOSTS[@]}"; do volume_start "$h"; done
rigapi wait-api 120
wait_port "$CINDER_PORT" 5 "cinder api"
rigapi ensure-types >"$STATE_DIR/volume-types.txt"
rigapi wait-pools "$WAIT" "$(running_hosts)"
echo "http://127.0.0.1:$CINDER_PORT"

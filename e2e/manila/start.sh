#!/usr/bin/env bash
# Starts the Manila test rig on 127.0.0.1: its own PostgreSQL cluster and
# RabbitMQ node, then manila api, scheduler and two share services
# (rig-node1: back ends alpha and beta; rig-node10: alpha) whose pools come
# from $STATE_DIR/pools.json (see rig_driver.py). Idempotent: what runs
# already is left running. Needs install.sh first. Run as root.
#
# Environment: MANILA_PORT (18786), STATE_DIR (/tmp/oce-e2e/manila),
# MANILA_RIG_PG_PORT (15432), MANILA_RIG_RABBIT_PORT (15682),
# MANILA_RIG_RABBIT_DIST_PORT (15683), MANILA_RIG_EPMD_PORT (14369),
# MANILA_RIG_REPORT_INTERVAL (2 s between capability reports),
# MANILA_RIG_RPC_TIMEOUT (rpc_response_timeout, Manila's default 60),
# MANILA_RIG_WAIT (120 s to wait for the pools).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "start.sh must run as root"
[ -x "$PG_BIN/initdb" ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] &&
	"$PY" -c 'import manila' 2>/dev/null || die "run install.sh first"
WAIT=${MANILA_RIG_WAIT:-120}

mkdir -p "$STATE_DIR" "$LOGS" "$RUN" "$STATE_DIR/lock" "$STATE_DIR/rabbitmq"
chmod 755 "$STATE_DIR"
[ -e "$MANILA_RIG_POOLS" ] || cp "$RIG_DIR/pools.default.json" "$MANILA_RIG_POOLS"

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
if [ "$(psql_q -c "SELECT 1 FROM pg_roles WHERE rolname='manila'")" != 1 ]; then
	psql_q -c "CREATE ROLE manila LOGIN PASSWORD 'manila'"
fi
if [ "$(psql_q -c "SELECT 1 FROM pg_database WHERE datname='manila'")" != 1 ]; then
	psql_q -c "CREATE DATABASE manila OWNER manila"
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
wait_port "$RABBIT_PORT" 60 RabbitMQ

### Manila configuration.
cat >"$STATE_DIR/api-paste.ini" <<PASTE
[composite:osapi_share]
use = call:manila.api:root_app_factory
/: apiversions
/v1: openstack_share_api
/v2: openstack_share_api_v2

[composite:openstack_share_api]
use = call:manila.api.middleware.auth:pipeline_factory
noauth = faultwrap noauth apiv1
keystone = faultwrap noauth apiv1

[composite:openstack_share_api_v2]
use = call:manila.api.middleware.auth:pipeline_factory
noauth = faultwrap noauth apiv2
keystone = faultwrap noauth apiv2

[filter:faultwrap]
paste.filter_factory = manila.api.middleware.fault:FaultWrapper.factory

[filter:noauth]
paste.filter_factory = manila.api.middleware.auth:NoAuthMiddleware.factory

[app:apiv1]
paste.app_factory = manila.api.v1.router:APIRouter.factory

[app:apiv2]
paste.app_factory = manila.api.v2.router:APIRouter.factory

[pipeline:apiversions]
pipeline = faultwrap osversionsapp

[app:osversionsapp]
paste.app_factory = manila.api.versions:VersionsRouter.factory
PASTE

cat >"$CONF" <<CONFEOF
[DEFAULT]
auth_strategy = noauth
api_paste_config = $STATE_DIR/api-paste.ini
osapi_share_listen = 127.0.0.1
osapi_share_listen_port = $MANILA_PORT
osapi_share_workers = 1
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
rpc_response_timeout = ${MANILA_RIG_RPC_TIMEOUT:-60}
state_path = $STATE_DIR
debug = false
use_stderr = false
# Heartbeats every 2 s; a share service silent for 10 s counts as down.
report_interval = 2
service_down_time = 10
periodic_interval = 1
periodic_fuzzy_delay = 0
default_share_type = alpha
enabled_share_protocols = NFS,CIFS

[database]
connection = postgresql+psycopg2://manila:manila@127.0.0.1:$PG_PORT/manila

[oslo_concurrency]
lock_path = $STATE_DIR/lock

[oslo_messaging_rabbit]
rabbit_ha_queues = false

[coordination]
backend_url = file://$STATE_DIR/lock

[alpha]
share_driver = rig_driver.RigDriver
share_backend_name = alpha
driver_handles_share_servers = false
dummy_driver_default_driver_method_delay = 0
dummy_driver_driver_methods_delays = do_setup:0

[beta]
share_driver = rig_driver.RigDriver
share_backend_name = beta
driver_handles_share_servers = false
dummy_driver_default_driver_method_delay = 0
dummy_driver_driver_methods_delays = do_setup:0
CONFEOF
for h in "${SHARE_HOSTS[@]}"; do
	printf '[DEFAULT]\nhost = %s\nenabled_share_backends = %s\n' "$h" "${SHARE_BACKENDS[$h]}" >"$STATE_DIR/share-$h.conf"
done

### Manila database and services.
if [ ! -e "$STATE_DIR/db-synced" ]; then
	"$PY" -m manila.cmd.manage --config-file "$CONF" --log-file "$LOGS/manage.log" db sync
	touch "$STATE_DIR/db-synced"
fi
api_start
scheduler_start
for h in "${SHARE_HOSTS[@]}"; do share_start "$h"; done
rigapi wait-api 60
wait_port "$MANILA_PORT" 5 "manila api"
rigapi ensure-types >"$STATE_DIR/share-types.txt"
rigapi refresh "$WAIT" "$(running_hosts)"
echo "http://127.0.0.1:$MANILA_PORT"

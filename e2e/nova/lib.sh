# Shared settings and helpers of the Nova test rig; sourced by start.sh,
# ctl.sh and stop.sh. Everything listens on 127.0.0.1 only.

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NOVA_PORT=${NOVA_PORT:-18774}
STATE_DIR=${STATE_DIR:-/tmp/oce-e2e/nova}
PG_PORT=${NOVA_RIG_PG_PORT:-15462}
RABBIT_PORT=${NOVA_RIG_RABBIT_PORT:-15712}
RABBIT_DIST_PORT=${NOVA_RIG_RABBIT_DIST_PORT:-15713}
EPMD_PORT=${NOVA_RIG_EPMD_PORT:-14372}
# The rig's own Placement (e2e/placement/start.sh), state under STATE_DIR.
PLACEMENT_PORT_NOVA=${NOVA_RIG_PLACEMENT_PORT:-18781}
PLACEMENT_STATE=$STATE_DIR/placement
PLACEMENT_URL=http://127.0.0.1:$PLACEMENT_PORT_NOVA
# The rig's Glance (python3-glance's glance-api, eventlet, no Keystone),
# state under $STATE_DIR/glance, database `glance` in our PostgreSQL.
GLANCE_PORT=${NOVA_RIG_GLANCE_PORT:-19292}
GLANCE_URL=http://127.0.0.1:$GLANCE_PORT
GLANCE_DIR=$STATE_DIR/glance
GLANCE_CONF=$GLANCE_DIR/glance-api.conf
# fake_neutron.py: answers "nothing" to Nova's port and security group
# look-ups.
NEUTRON_PORT=${NOVA_RIG_NEUTRON_PORT:-19696}
NEUTRON_URL=http://127.0.0.1:$NEUTRON_PORT
PY=/usr/bin/python3
PG_BIN=/usr/lib/postgresql/15/bin
CONF=$STATE_DIR/nova.conf
DB_CONF=$STATE_DIR/nova-db.conf
LOGS=$STATE_DIR/logs
RUN=$STATE_DIR/run
# No __pycache__ in the work tree (rig_driver.py is imported by the computes).
export PYTHONDONTWRITEBYTECODE=1
export NOVA_RIG_COMPUTES=${NOVA_RIG_COMPUTES:-$STATE_DIR/computes.json}

# Compute hosts: the keys of the computes file, in file order.
compute_hosts() {
	"$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))))' "$NOVA_RIG_COMPUTES"
}

# RabbitMQ runs as root with all of its state under STATE_DIR; epmd on its
# own port so that it is ours alone.
rabbit_env() {
	export HOME=$STATE_DIR/rabbitmq
	export RABBITMQ_HOME=/usr/lib/rabbitmq
	export RABBITMQ_CONF_ENV_FILE=$STATE_DIR/rabbitmq/rabbitmq-env.conf
	export RABBITMQ_CONFIG_FILE=$STATE_DIR/rabbitmq/rabbitmq.conf
	export RABBITMQ_ADVANCED_CONFIG_FILE=$STATE_DIR/rabbitmq/advanced.config
	export RABBITMQ_ENABLED_PLUGINS_FILE=$STATE_DIR/rabbitmq/enabled_plugins
	export RABBITMQ_MNESIA_BASE=$STATE_DIR/rabbitmq/mnesia
	export RABBITMQ_LOG_BASE=$LOGS
	export RABBITMQ_PID_FILE=$RUN/rabbitmq-beam.pid
	export RABBITMQ_NODENAME=oce-nova-rig@localhost
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT=$RABBIT_PORT
	export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	export ERL_EPMD_ADDRESS=127.0.0.1
	export ERL_EPMD_PORT=$EPMD_PORT
}

log() { echo "nova rig: $*" >&2; }
die() { log "$*"; exit 1; }

# pid_alive NAME: the process recorded in $RUN/NAME.pid is running.
pid_alive() {
	local f=$RUN/$1.pid pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME CMD...: runs CMD in its own session (so that its children can
# be stopped with it), output to $LOGS/NAME.out, pid in $RUN/NAME.pid.
start_bg() {
	local name=$1
	shift
	if pid_alive "$name"; then
		log "$name already running (pid $(cat "$RUN/$name.pid"))"
		return 0
	fi
	setsid "$@" >>"$LOGS/$name.out" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
	log "$name started (pid $!)"
}

# stop_bg NAME [SECONDS]: SIGTERM to the process group recorded for NAME,
# SIGKILL after SECONDS (default 15).
stop_bg() {
	local name=$1 limit=${2:-15} pid i
	local f=$RUN/$name.pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < limit * 5; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name did not stop in ${limit}s; killing it"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# Children left in the group (API workers).
	if pgrep -g "$pid" >/dev/null 2>&1; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$f"
	log "$name stopped"
}

nova_manage() {
	"$PY" "$RIG_DIR/nova_cmd.py" manage --config-file "$CONF" --config-file "$DB_CONF" --log-file "$LOGS/manage.log" "$@"
}

api_start() {
	start_bg api "$PY" "$RIG_DIR/nova_cmd.py" api --config-file "$CONF" --config-file "$DB_CONF" --log-file "$LOGS/api.log"
}
conductor_start() {
	start_bg conductor "$PY" "$RIG_DIR/nova_cmd.py" conductor --config-file "$CONF" --config-file "$DB_CONF" --log-file "$LOGS/conductor.log"
}
scheduler_start() {
	start_bg scheduler "$PY" "$RIG_DIR/nova_cmd.py" scheduler --config-file "$CONF" --config-file "$DB_CONF" --log-file "$LOGS/scheduler.log"
}
# python3-glance's commands have __main__ blocks (unlike Nova's).
glance_start() {
	start_bg glance "$PY" -m glance.cmd.api --config-file "$GLANCE_CONF" --log-file "$LOGS/glance-api.log"
}
neutron_start() {
	start_bg neutron "$PY" "$RIG_DIR/fake_neutron.py" "$NEUTRON_PORT" "$LOGS/neutron-requests.log"
}
glance_manage() {
	"$PY" -m glance.cmd.manage --config-file "$GLANCE_CONF" --log-file "$LOGS/glance-manage.log" "$@"
}
compute_start() {
	local h=$1
	[ -e "$STATE_DIR/compute-$h.conf" ] || die "unknown compute host $h (known: $(compute_hosts | tr '\n' ' '))"
	start_bg "compute-$h" "$PY" "$RIG_DIR/nova_cmd.py" compute \
		--config-file "$CONF" --config-file "$STATE_DIR/compute-$h.conf" \
		--log-file "$LOGS/compute-$h.log"
}

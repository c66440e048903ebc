# Shared settings and helpers of the Manila test rig; sourced by start.sh,
# ctl.sh and stop.sh. Everything listens on 127.0.0.1 only.

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MANILA_PORT=${MANILA_PORT:-18786}
STATE_DIR=${STATE_DIR:-/tmp/oce-e2e/manila}
PG_PORT=${MANILA_RIG_PG_PORT:-15432}
RABBIT_PORT=${MANILA_RIG_RABBIT_PORT:-15682}
RABBIT_DIST_PORT=${MANILA_RIG_RABBIT_DIST_PORT:-15683}
EPMD_PORT=${MANILA_RIG_EPMD_PORT:-14369}
PY=/usr/bin/python3
PG_BIN=/usr/lib/postgresql/15/bin
CONF=$STATE_DIR/manila.conf
LOGS=$STATE_DIR/logs
RUN=$STATE_DIR/run
# Share hosts and their back ends (rig-node1 is a prefix of rig-node10 on purpose).
SHARE_HOSTS=(rig-node1 rig-node10)
declare -A SHARE_BACKENDS=([rig-node1]="alpha,beta" [rig-node10]="alpha")
export MANILA_RIG_POOLS=${MANILA_RIG_POOLS:-$STATE_DIR/pools.json}
export MANILA_RIG_REPORT_INTERVAL=${MANILA_RIG_REPORT_INTERVAL:-2}

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
	export RABBITMQ_NODENAME=oce-manila-rig@localhost
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT=$RABBIT_PORT
	export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	export ERL_EPMD_ADDRESS=127.0.0.1
	export ERL_EPMD_PORT=$EPMD_PORT
}

log() { echo "manila rig: $*" >&2; }
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
	# Children left in the group (the share service forks one per back end).
	if pgrep -g "$pid" >/dev/null 2>&1; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$f"
	log "$name stopped"
}

# Hosts whose share service runs, comma-separated.
running_hosts() {
	local h out=()
	for h in "${SHARE_HOSTS[@]}"; do
		if pid_alive "share-$h"; then out+=("$h"); fi
	done
	local IFS=,
	echo "${out[*]}"
}

rigapi() {
	"$PY" "$RIG_DIR/rigapi.py" --url "http://127.0.0.1:$MANILA_PORT" \
		--pools-file "$MANILA_RIG_POOLS" "$@"
}

share_start() {
	local h=$1
	[ -n "${SHARE_BACKENDS[$h]:-}" ] || die "unknown share host $h (known: ${SHARE_HOSTS[*]})"
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$RIG_DIR start_bg "share-$h" "$PY" -m manila.cmd.share \
		--config-file "$CONF" --config-file "$STATE_DIR/share-$h.conf" \
		--log-file "$LOGS/share-$h.log"
}

scheduler_start() {
	start_bg scheduler "$PY" -m manila.cmd.scheduler --config-file "$CONF" --log-file "$LOGS/scheduler.log"
}

api_start() {
	start_bg api "$PY" -m manila.cmd.api --config-file "$CONF" --log-file "$LOGS/api.log"
}

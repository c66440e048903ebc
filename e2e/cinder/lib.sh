# Shared settings and helpers of the Cinder test rig; sourced by start.sh,
# ctl.sh and stop.sh. Everything listens on 127.0.0.1 only.

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CINDER_PORT=${CINDER_PORT:-18776}
STATE_DIR=${STATE_DIR:-/tmp/oce-e2e/cinder}
PG_PORT=${CINDER_RIG_PG_PORT:-15442}
RABBIT_PORT=${CINDER_RIG_RABBIT_PORT:-15692}
RABBIT_DIST_PORT=${CINDER_RIG_RABBIT_DIST_PORT:-15693}
EPMD_PORT=${CINDER_RIG_EPMD_PORT:-14370}
PY=/usr/bin/python3
PG_BIN=/usr/lib/postgresql/15/bin
CONF=$STATE_DIR/cinder.conf
LOGS=$STATE_DIR/logs
RUN=$STATE_DIR/run
# Volume hosts and their back ends (rig-vol1 is a prefix of rig-vol10 on purpose).
VOLUME_HOSTS=(rig-vol1 rig-vol10)
declare -A VOLUME_BACKENDS=([rig-vol1]="alpha,beta" [rig-vol10]="alpha")
export CINDER_RIG_POOLS=${CINDER_RIG_POOLS:-$STATE_DIR/pools.json}
export CINDER_RIG_REPORT_INTERVAL=${CINDER_RIG_REPORT_INTERVAL:-2}
export CINDER_RIG_LEDGER_DIR=$STATE_DIR/ledger

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
	export RABBITMQ_NODENAME=oce-cinder-rig@localhost
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT=$RABBIT_PORT
	export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	export ERL_EPMD_ADDRESS=127.0.0.1
	export ERL_EPMD_PORT=$EPMD_PORT
}

log() { echo "cinder rig: $*" >&2; }
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
	# Children left in the group (the volume service forks one per back end).
	if pgrep -g "$pid" >/dev/null 2>&1; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$f"
	log "$name stopped"
}

# Hosts whose volume service runs, comma-separated.
running_hosts() {
	local h out=()
	for h in "${VOLUME_HOSTS[@]}"; do
		if pid_alive "volume-$h"; then out+=("$h"); fi
	done
	local IFS=,
	echo "${out[*]}"
}

rigapi() {
	"$PY" "$RIG_DIR/rigapi.py" --url "http://127.0.0.1:$CINDER_PORT" \
		--pools-file "$CINDER_RIG_POOLS" "$@"
}

volume_start() {
	local h=$1
	[ -n "${VOLUME_BACKENDS[$h]:-}" ] || die "unknown volume host $h (known: ${VOLUME_HOSTS[*]})"
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$RIG_DIR start_bg "volume-$h" "$PY" "$RIG_DIR/cinder_cmd.py" volume \
		--config-file "$CONF" --config-file "$STATE_DIR/volume-$h.conf" \
		--log-file "$LOGS/volume-$h.log"
}

scheduler_start() {
	start_bg scheduler "$PY" "$RIG_DIR/cinder_cmd.py" scheduler --config-file "$CONF" --log-file "$LOGS/scheduler.log"
}

api_start() {
	start_bg api "$PY" "$RIG_DIR/cinder_cmd.py" api --config-file "$CONF" --log-file "$LOGS/api.log"
}

# Settings and helpers of the demo, sourced by up.sh and down.sh. The demo
# runs the e2e rigs' real servers on ports and in a state directory of its
# own, so it can run beside the e2e suite (which uses the rigs' defaults)
# and beside an exporter or Prometheus of the machine (9863, 9090).
# Everything listens on 127.0.0.1 only.

DEMO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DEMO_DIR/.." && pwd)
# Outside the checkout: PostgreSQL runs as the postgres user and must reach
# its data directory, which a checkout under /root would not let it.
DEMO_STATE_DIR=${DEMO_STATE_DIR:-/tmp/oce-demo}
DEMO_EXPORTER_PORT=${DEMO_EXPORTER_PORT:-19863}
DEMO_PROMETHEUS_PORT=${DEMO_PROMETHEUS_PORT:-19090}
DEMO_PLACEMENT_PORT=${DEMO_PLACEMENT_PORT:-18878}
DEMO_MANILA_PORT=${DEMO_MANILA_PORT:-18886}
DEMO_MANILA_PG_PORT=${DEMO_MANILA_PG_PORT:-15532}
DEMO_MANILA_RABBIT_PORT=${DEMO_MANILA_RABBIT_PORT:-15782}
DEMO_MANILA_RABBIT_DIST_PORT=${DEMO_MANILA_RABBIT_DIST_PORT:-15783}
DEMO_MANILA_EPMD_PORT=${DEMO_MANILA_EPMD_PORT:-14469}
# Kept free for the Cinder rig (e2e/cinder, defaults 18776, 15442, 15692,
# 15693, 14370) once the demo starts it: 18876, 15542, 15792, 15793, 14470.

# The noauth token of the rigs: Placement's noauth2 makes a token whose user
# part is "admin" an admin; Manila's noauth reads "user:project".
DEMO_PROJECT=0123456789abcdef0123456789abcdef
DEMO_TOKEN=admin:$DEMO_PROJECT

demo_log() { echo "demo: $*" >&2; }

# in_placement CMD...: runs a Placement rig script for the demo's instance.
in_placement() {
	PLACEMENT_PORT=$DEMO_PLACEMENT_PORT STATE_DIR=$DEMO_STATE_DIR/placement "$@"
}

# in_manila CMD...: runs a Manila rig script for the demo's instance.
in_manila() {
	MANILA_PORT=$DEMO_MANILA_PORT STATE_DIR=$DEMO_STATE_DIR/manila \
		MANILA_RIG_PG_PORT=$DEMO_MANILA_PG_PORT \
		MANILA_RIG_RABBIT_PORT=$DEMO_MANILA_RABBIT_PORT \
		MANILA_RIG_RABBIT_DIST_PORT=$DEMO_MANILA_RABBIT_DIST_PORT \
		MANILA_RIG_EPMD_PORT=$DEMO_MANILA_EPMD_PORT \
		MANILA_RIG_POOLS=$DEMO_STATE_DIR/manila/pools.json "$@"
}

# stop_pidfile FILE NAME: stops the process recorded in FILE if it still is
# NAME (not a recycled pid): SIGTERM, SIGKILL after 10 s. Idempotent.
stop_pidfile() {
	local file=$1 name=$2 pid i
	[ -s "$file" ] || return 0
	pid=$(cat "$file")
	if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			demo_log "$name (pid $pid) did not stop in 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		demo_log "$name stopped"
	fi
	rm -f "$file"
}

# start_detached PIDFILE LOG DIR CMD...: runs CMD in DIR in a session of its
# own (no signal from up.sh's terminal reaches it) and records its pid.
start_detached() {
	local pidfile=$1 log=$2 dir=$3
	shift 3
	rm -f "$pidfile"
	# The pid is written by the process itself, which then becomes CMD.
	setsid bash -c 'cd "$1" && echo $$ >"$2" && shift 2 && exec "$@"' start_detached "$dir" "$pidfile" "$@" \
		>"$log" 2>&1 </dev/null &
	local i
	for ((i = 0; i < 50; i++)); do
		[ -s "$pidfile" ] && return 0
		sleep 0.1
	done
	demo_log "$* did not start (log: $log)"
	return 1
}

stop_all() {
	stop_pidfile "$DEMO_STATE_DIR/prometheus/prometheus.pid" prometheus
	stop_pidfile "$DEMO_STATE_DIR/exporter/exporter.pid" openstack-capacity-exporter
	# Cinder: stop the demo's Cinder rig here once up.sh starts it.
	if [ -d "$DEMO_STATE_DIR/manila" ]; then in_manila "$REPO/e2e/manila/stop.sh" || true; fi
	if [ -d "$DEMO_STATE_DIR/placement" ]; then in_placement "$REPO/e2e/placement/stop.sh" >/dev/null || true; fi
}

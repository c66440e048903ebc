#!/usr/bin/env bash
# Controls a running Cinder test rig (see start.sh) for the e2e tests.
#   ctl.sh stop-scheduler          stop cinder-scheduler (get_pools then
#                                  hangs for rpc_response_timeout, then 500)
#   ctl.sh start-scheduler         start it; waits until the pools are listed
#   ctl.sh stop-volume HOST        stop the volume service of HOST (rig-vol1,
#                                  rig-vol10); its pools leave the list once
#                                  the service counts as down
#                                  (service_down_time = 10 s after its last
#                                  heartbeat); no request needed
#   ctl.sh start-volume HOST       start it; waits until its pools are listed
#   ctl.sh disable HOST@BACKEND    disable that volume service through the
#                                  API (os-services): its pools leave the
#                                  list at once
#   ctl.sh enable HOST@BACKEND     enable it again; waits until its pools
#                                  are listed
#   ctl.sh wait-pools [SECONDS]    wait until get_pools shows exactly the
#                                  pools of the running hosts with the values
#                                  the driver reports (the pools file and the
#                                  volumes created) (default 60 s)
#   ctl.sh set-pools FILE          copy FILE to the pools file, then
#                                  wait-pools
#   ctl.sh reset-pools             put back pools.default.json, then
#                                  wait-pools
#   ctl.sh delete-volumes          delete every volume, then wait-pools
#   ctl.sh reset                   delete every volume, put back
#                                  pools.default.json, then wait-pools (the
#                                  rig as start.sh leaves it)
#   ctl.sh status                  which processes run
# Same environment as start.sh (CINDER_PORT, STATE_DIR).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -e "$CONF" ] || die "no rig in $STATE_DIR (run start.sh)"
cmd=${1:-}
host_arg() {
	[ -n "${1:-}" ] && [ -n "${VOLUME_BACKENDS[$1]:-}" ] || die "usage: ctl.sh $cmd HOST (one of ${VOLUME_HOSTS[*]})"
}
set_pools() { # atomically, so that the driver never reads half a file
	cp "$1" "$CINDER_RIG_POOLS.tmp" && mv -f "$CINDER_RIG_POOLS.tmp" "$CINDER_RIG_POOLS"
}
case "$cmd" in
stop-scheduler) stop_bg scheduler ;;
start-scheduler)
	scheduler_start
	rigapi wait-pools "${2:-120}" "$(running_hosts)"
	;;
stop-volume)
	host_arg "${2:-}"
	stop_bg "volume-$2"
	;;
start-volume)
	host_arg "${2:-}"
	volume_start "$2"
	rigapi wait-pools "${3:-120}" "$(running_hosts)"
	;;
disable)
	[ -n "${2:-}" ] || die "usage: ctl.sh disable HOST@BACKEND (e.g. rig-vol10@alpha)"
	rigapi disable "$2"
	;;
enable)
	[ -n "${2:-}" ] || die "usage: ctl.sh enable HOST@BACKEND (e.g. rig-vol10@alpha)"
	rigapi enable "$2"
	rigapi wait-pools "${3:-60}" "$(running_hosts)"
	;;
wait-pools) rigapi wait-pools "${2:-60}" "$(running_hosts)" ;;
set-pools)
	[ -r "${2:-}" ] || die "usage: ctl.sh set-pools FILE"
	set_pools "$2"
	rigapi wait-pools "${3:-60}" "$(running_hosts)"
	;;
reset-pools)
	set_pools "$RIG_DIR/pools.default.json"
	rigapi wait-pools "${2:-60}" "$(running_hosts)"
	;;
delete-volumes)
	rigapi delete-volumes
	rigapi wait-pools "${2:-60}" "$(running_hosts)"
	;;
reset)
	rigapi delete-volumes
	set_pools "$RIG_DIR/pools.default.json"
	rigapi wait-pools "${2:-60}" "$(running_hosts)"
	;;
status)
	for name in postgresql rabbitmq api scheduler "${VOLUME_HOSTS[@]/#/volume-}"; do
		if [ "$name" = postgresql ]; then
			if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE_DIR/pgdata" status >/dev/null 2>&1; then
				echo "postgresql running"
			else
				echo "postgresql stopped"
			fi
		elif pid_alive "$name"; then
			echo "$name running (pid $(cat "$RUN/$name.pid"))"
		else
			echo "$name stopped"
		fi
	done
	;;
*) die "usage: ctl.sh stop-scheduler|start-scheduler|stop-volume HOST|start-volume HOST|wait-pools [SECONDS]|set-pools FILE|reset-pools|disable HOST@BACKEND|enable HOST@BACKEND|delete-volumes|reset|status" ;;
esac

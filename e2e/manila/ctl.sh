#!/usr/bin/env bash
# Controls a running Manila test rig (see start.sh) for the e2e tests.
#   ctl.sh stop-scheduler          stop manila-scheduler (pools requests then
#                                  hang for rpc_response_timeout, then 500)
#   ctl.sh start-scheduler         start it; waits until the pools are listed
#   ctl.sh stop-share HOST         stop the share service of HOST (rig-node1,
#                                  rig-node10); its pools stay listed until
#                                  `refresh`
#   ctl.sh start-share HOST        start it; waits until its pools are listed
#   ctl.sh refresh [SECONDS]       make the scheduler rebuild its host map
#                                  until the pools API shows exactly the pools
#                                  of the running hosts with the values of
#                                  $STATE_DIR/pools.json (default 60 s)
#   ctl.sh status                  which processes run
# Same environment as start.sh (MANILA_PORT, STATE_DIR).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -e "$CONF" ] || die "no rig in $STATE_DIR (run start.sh)"
cmd=${1:-}
case "$cmd" in
stop-scheduler) stop_bg scheduler ;;
start-scheduler)
	scheduler_start
	rigapi refresh "${2:-120}" "$(running_hosts)"
	;;
stop-share)
	[ -n "${2:-}" ] && [ -n "${SHARE_BACKENDS[$2]:-}" ] || die "usage: ctl.sh stop-share HOST (one of ${SHARE_HOSTS[*]})"
	stop_bg "share-$2"
	;;
start-share)
	[ -n "${2:-}" ] && [ -n "${SHARE_BACKENDS[$2]:-}" ] || die "usage: ctl.sh start-share HOST (one of ${SHARE_HOSTS[*]})"
	share_start "$2"
	rigapi refresh "${3:-120}" "$(running_hosts)"
	;;
refresh) rigapi refresh "${2:-60}" "$(running_hosts)" ;;
status)
	for name in postgresql rabbitmq api scheduler "${SHARE_HOSTS[@]/#/share-}"; do
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
*) die "usage: ctl.sh stop-scheduler|start-scheduler|stop-share HOST|start-share HOST|refresh [SECONDS]|status" ;;
esac

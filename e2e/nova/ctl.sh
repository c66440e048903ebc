#!/usr/bin/env bash
# Controls a running Nova test rig (see start.sh).
#   ctl.sh status                  which processes run
#   ctl.sh stop-compute HOST       SIGTERM to HOST's nova-compute; Nova
#                                  reports it down service_down_time (10 s)
#                                  after its last heartbeat
#   ctl.sh start-compute HOST      start it; waits until it is up again
#   ctl.sh wait-down HOST [SECONDS]  until os-services says HOST is down
#                                  (default 60 s); prints how long it took
#   ctl.sh wait-up HOST [SECONDS]    until os-services says HOST is up
#   ctl.sh freeze-compute HOST     SIGSTOP to HOST's nova-compute: it stops
#                                  answering RPCs and heartbeating (down
#                                  after 10 s), as a hung host would
#   ctl.sh thaw-compute HOST       SIGCONT
#   ctl.sh seed                    rigapi.py seed (aggregates, flavors,
#                                  Placement allocations)
#   ctl.sh service HOST enable|disable [REASON]|down|up
#   ctl.sh manage ARGS...          nova-manage ARGS (e.g. placement
#                                  sync_aggregates), with the rig's config
#   ctl.sh image-id                the rig-image's id (Glance)
#   ctl.sh boot FLAVOR [--az AZ] [--count N] [--timeout S]
#                                  rigapi.py boot: N servers in one request,
#                                  waits for ACTIVE/ERROR, prints a summary
#   ctl.sh delete-servers          rigapi.py delete-servers: all servers,
#                                  waits until their allocations are gone
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rigapi() {
	"$PY" "$RIG_DIR/rigapi.py" --url "http://127.0.0.1:$NOVA_PORT" --placement "$PLACEMENT_URL" "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
status)
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] || continue
		n=${f##*/}
		n=${n%.pid}
		[ "$n" = rabbitmq-beam ] && continue
		if pid_alive "$n"; then echo "$n running (pid $(cat "$f"))"; else echo "$n not running"; fi
	done
	if pid_alive glance; then
		if id=$(rigapi --glance "$GLANCE_URL" image-id 2>&1); then
			echo "glance $GLANCE_URL: image rig-image $id"
		else
			echo "glance $GLANCE_URL: $id"
		fi
	fi
	;;
stop-compute)
	[ -n "${1:-}" ] || die "usage: ctl.sh stop-compute HOST"
	stop_bg "compute-$1"
	;;
start-compute)
	[ -n "${1:-}" ] || die "usage: ctl.sh start-compute HOST"
	compute_start "$1"
	rigapi wait-computes "${NOVA_RIG_WAIT:-180}" "$1" --discover "$STATE_DIR"
	;;
freeze-compute | thaw-compute)
	[ -n "${1:-}" ] || die "usage: ctl.sh $cmd HOST"
	pid_alive "compute-$1" || die "compute-$1 is not running"
	sig=STOP
	[ "$cmd" = thaw-compute ] && sig=CONT
	kill -"$sig" "$(cat "$RUN/compute-$1.pid")"
	log "compute-$1: SIG$sig"
	;;
wait-down)
	[ -n "${1:-}" ] || die "usage: ctl.sh wait-down HOST [SECONDS]"
	rigapi wait-down "$1" "${2:-60}"
	;;
wait-up)
	[ -n "${1:-}" ] || die "usage: ctl.sh wait-up HOST [SECONDS]"
	rigapi wait-up "$1" "${2:-60}"
	;;
seed) rigapi seed ;;
manage) nova_manage "$@" ;;
image-id) rigapi --glance "$GLANCE_URL" image-id ;;
boot) rigapi --glance "$GLANCE_URL" boot "$@" ;;
delete-servers) rigapi delete-servers "$@" ;;
service) rigapi service "$@" ;;
*) die "usage: ctl.sh status|stop-compute HOST|start-compute HOST|freeze-compute HOST|thaw-compute HOST|wait-down HOST [SECONDS]|wait-up HOST [SECONDS]|seed|manage ARGS...|service HOST ACTION [REASON]|image-id|boot FLAVOR [--az AZ] [--count N]|delete-servers" ;;
esac

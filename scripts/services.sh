#!/usr/bin/env bash
# Start and stop the real servers the tests talk to, on loopback, by PID.
#   scripts/services.sh start [name ...]   # default: every scripts/servers/*.sh
#   scripts/services.sh stop               # stops whatever start started
# Each scripts/servers/NAME.sh takes `start` / `stop`, keeps its pid file and logs in $LAB and
# writes the environment the tests need to $LAB/NAME.env (lines of `export VAR=value`).
# start concatenates those into $LAB/services.env. With CI=true a server that fails to start
# fails this script; otherwise it is reported and its tests skip with that reason.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LAB=${PORTACLOUD_LAB:-$(cd "$here/.." && pwd)/.lab}
export VENV=${VENV:-$(cd "$here/.." && pwd)/.venv}
mkdir -p "$LAB"

names() {
  if [ $# -gt 0 ]; then printf '%s\n' "$@"; else
    for f in "$here"/servers/[!_]*.sh; do [ -e "$f" ] && basename "$f" .sh; done; fi
}

case "${1:-}" in
  start)
    shift
    failed=()
    for n in $(names "$@"); do
      echo "starting $n"
      if ! bash "$here/servers/$n.sh" start >"$LAB/$n.start.log" 2>&1; then
        rm -f "$LAB/$n.env"
        echo "  $n failed to start; last lines of $LAB/$n.start.log:" >&2
        tail -n 20 "$LAB/$n.start.log" >&2
        failed+=("$n")
      fi
    done
    # services.env holds the environment of every server started so far (and not stopped).
    cat /dev/null $(ls "$LAB"/*.env 2>/dev/null | grep -v '/services.env$') >"$LAB/services.env"
    if [ ${#failed[@]} -gt 0 ]; then
      echo "servers that did not start: ${failed[*]}" >&2
      if [ "${CI:-}" = "true" ]; then exit 1; fi
    fi
    ;;
  stop)
    for n in $(names); do
      bash "$here/servers/$n.sh" stop >/dev/null 2>&1 || true
      rm -f "$LAB/$n.env"
    done
    rm -f "$LAB/services.env"
    echo "servers stopped"
    ;;
  *) echo "usage: $0 start [name ...] | stop" >&2; exit 2 ;;
esac

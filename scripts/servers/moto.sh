#!/usr/bin/env bash
# moto server (AWS S3 semantics, in memory, no authentication) on 127.0.0.1:19000, for
# tests/integration/test_s3.py and the conformance suite.
#   scripts/servers/moto.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/moto.env with PORTACLOUD_TEST_MOTO_ENDPOINT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
VENV=${VENV:-$(cd "$here/../.." && pwd)/.venv}
mkdir -p "$LAB"

PORT=${MOTO_PORT:-19000}
PIDFILE="$LAB/moto.pid"
BIN="$VENV/bin/moto_server"

start() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "moto already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  if [ ! -x "$BIN" ]; then
    echo "$BIN is missing: run 'uv sync' (moto[server] is in the servers dependency group)" >&2
    return 1
  fi
  port_free "$PORT"
  "$BIN" -H 127.0.0.1 -p "$PORT" >"$LAB/moto.log" 2>&1 &
  echo $! >"$PIDFILE"
  if ! wait_http "http://127.0.0.1:$PORT/moto-api/" 30; then
    tail -n 20 "$LAB/moto.log" >&2 || true
    stop_pid "$PIDFILE"
    return 1
  fi
  printf 'export PORTACLOUD_TEST_MOTO_ENDPOINT=http://127.0.0.1:%s\n' "$PORT" >"$LAB/moto.env"
  echo "moto listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
}

stop() {
  stop_pid "$PIDFILE"
  rm -f "$LAB/moto.env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

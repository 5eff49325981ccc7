#!/usr/bin/env bash
# moto server (AWS S3 semantics, in memory, no authentication) on 127.0.0.1:19000, for
# tests/integration/test_s3.py and the conformance suite.
#   scripts/servers/moto.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/moto.env with PORTACLOUD_TEST_MOTO_ENDPOINT (tests/integration), and
# PORTACLOUD_CONFORMANCE_MOTO naming a bucket this script creates plus the AWS_* identity boto3
# needs (scripts/conformance_targets.py); moto accepts any credentials.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
VENV=${VENV:-$(cd "$here/../.." && pwd)/.venv}
CONFORMANCE_BUCKET=conformance
mkdir -p "$LAB"

# A SigV4-signed CreateBucket; 409 means the bucket is there already.
create_conformance_bucket() {
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user testing:testing \
    "http://127.0.0.1:$PORT/$CONFORMANCE_BUCKET")
  [ "$status" = 200 ] || [ "$status" = 409 ]
}

PORT=${MOTO_PORT:-19000}
PIDFILE="$LAB/moto.pid"
BIN="$VENV/bin/moto_server"

write_env() {
  {
    echo "export PORTACLOUD_TEST_MOTO_ENDPOINT=http://127.0.0.1:$PORT"
    if create_conformance_bucket; then
      echo "export PORTACLOUD_CONFORMANCE_MOTO='s3://$CONFORMANCE_BUCKET?endpoint_url=http://127.0.0.1:$PORT'"
      echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    else
      echo "could not create the conformance bucket" >&2
    fi
  } >"$LAB/moto.env"
}

start() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "moto already running (pid $(cat "$PIDFILE"))"
    write_env
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
  write_env
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

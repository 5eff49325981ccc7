#!/usr/bin/env bash
# Azurite (Azure Blob emulator) on 127.0.0.1:19010, in memory, for tests/integration/test_azure.py.
#   scripts/servers/azurite.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/azurite.env with PORTACLOUD_TEST_AZURITE_CONNECTION_STRING. The account key in it
# is Azurite's published development key (devstoreaccount1), not a secret of anyone's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
mkdir -p "$LAB"

VERSION=3.37.0
PORT=${AZURITE_PORT:-19010}
PIDFILE="$LAB/azurite.pid"
BIN="$LAB/npm/bin/azurite-blob"
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

installed_version() {
  local pkg="$LAB/npm/lib/node_modules/azurite/package.json"
  [ -f "$pkg" ] && node -p "require('$pkg').version" 2>/dev/null || true
}

start() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "azurite already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  if [ "$(installed_version)" != "$VERSION" ] || [ ! -x "$BIN" ]; then
    # A private prefix keeps the machine's global npm untouched and makes reinstalls cheap.
    npm install -g --prefix "$LAB/npm" --no-audit --no-fund --loglevel=error "azurite@$VERSION"
  fi
  port_free "$PORT"
  # --skipApiVersionCheck: current azure-storage-blob sends a newer API version than
  # Azurite 3.37 knows and every call would fail with 400 InvalidHeaderValue.
  "$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --inMemoryPersistence \
    --skipApiVersionCheck --disableTelemetry --silent >"$LAB/azurite.log" 2>&1 &
  echo $! >"$PIDFILE"
  if ! wait_http "http://127.0.0.1:$PORT/$ACCOUNT?comp=list" 30; then
    tail -n 20 "$LAB/azurite.log" >&2 || true
    stop_pid "$PIDFILE"
    return 1
  fi
  local conn="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;"
  conn+="BlobEndpoint=http://127.0.0.1:$PORT/$ACCOUNT;"
  printf 'export PORTACLOUD_TEST_AZURITE_CONNECTION_STRING="%s"\n' "$conn" >"$LAB/azurite.env"
  echo "azurite $VERSION listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
}

stop() {
  stop_pid "$PIDFILE"
  rm -f "$LAB/azurite.env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

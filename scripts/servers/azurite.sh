#!/usr/bin/env bash
# Azurite (Azure Blob emulator) on 127.0.0.1:19010, in memory, for tests/integration/test_azure.py.
#   scripts/servers/azurite.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/azurite.env with PORTACLOUD_TEST_AZURITE_CONNECTION_STRING (tests/integration) and,
# for scripts/conformance_targets.py, AZURE_STORAGE_CONNECTION_STRING plus
# PORTACLOUD_CONFORMANCE_AZURITE=az://conformance (a container this script creates) and
# PORTACLOUD_CONFORMANCE_AZURITE_SDK (the same container through azure-storage-blob; the
# plain one uses the default engine, obstore). The account
# key in them is Azurite's published development key (devstoreaccount1), not anyone's secret.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
VENV=${VENV:-$(cd "$here/../.." && pwd)/.venv}
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

CONN="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;"
CONN+="BlobEndpoint=http://127.0.0.1:$PORT/$ACCOUNT;"
CONFORMANCE_CONTAINER=conformance

# The conformance suite needs an existing container; signing a Create Container request by hand
# in bash is not worth it when the workspace's venv has azure-storage-blob.
create_conformance_container() {
  AZURITE_CONN="$CONN" "$VENV/bin/python" - "$CONFORMANCE_CONTAINER" <<'PY'
import os, sys
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

service = BlobServiceClient.from_connection_string(os.environ["AZURITE_CONN"])
try:
    service.create_container(sys.argv[1])
except ResourceExistsError:
    pass
PY
}

write_env() {
  {
    printf 'export PORTACLOUD_TEST_AZURITE_CONNECTION_STRING="%s"\n' "$CONN"
    if create_conformance_container; then
      printf 'export AZURE_STORAGE_CONNECTION_STRING="%s"\n' "$CONN"
      printf 'export PORTACLOUD_CONFORMANCE_AZURITE=az://%s\n' "$CONFORMANCE_CONTAINER"
      printf 'export PORTACLOUD_CONFORMANCE_AZURITE_SDK=az://%s?engine=sdk\n' "$CONFORMANCE_CONTAINER"
      printf 'export PORTACLOUD_CONFORMANCE_LIBCLOUD_AZURE=libcloud+azure-blobs://%s\n' "$CONFORMANCE_CONTAINER"
    else
      echo "could not create the conformance container (is azure-storage-blob in $VENV?)" >&2
    fi
  } >"$LAB/azurite.env"
}

start() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    write_env
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
  write_env
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

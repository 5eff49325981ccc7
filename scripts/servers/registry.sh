#!/usr/bin/env bash
# A local OCI registry (Debian's docker-registry, distribution v2) on 127.0.0.1:19300, holding
# the images the container-job tests pull, built here by scripts/build_test_images.sh.
#   scripts/servers/registry.sh start|stop   (normally through scripts/services.sh)
# Needs root for apt-get (podman, runc, busybox-static, docker-registry). The registry's blobs
# live in $LAB/registry/data and survive a stop, so images built from unchanged inputs are not
# built again (their tags are the hash of their inputs). Writes $LAB/registry.env with the
# podman configuration (CONTAINERS_CONF, CONTAINERS_REGISTRIES_CONF), PORTACLOUD_TEST_REGISTRY
# and the test images' references. PORTACLOUD_REGISTRY_PORT picks another port.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
mkdir -p "$LAB"
LAB=$(cd "$LAB" && pwd)
PORT=${PORTACLOUD_REGISTRY_PORT:-19300}
R="$LAB/registry"
PIDFILE="$R/registry.pid"
ENVFILE="$LAB/registry.env"

install_packages() {
  local missing=()
  for bin in podman runc busybox docker-registry; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("$bin")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${missing[*]}: run as root, or apt-get install podman runc busybox-static docker-registry" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends podman runc busybox-static docker-registry \
    >/dev/null
}

alive() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start_registry() {
  if alive; then return 0; fi
  port_free "$PORT"
  mkdir -p "$R/data"
  cat >"$R/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $R/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
CONF
  setsid docker-registry serve "$R/config.yml" >"$R/registry.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  if ! wait_http "http://127.0.0.1:$PORT/v2/" 30; then
    tail -n 20 "$R/registry.log" >&2 || true
    stop
    return 1
  fi
}

start() {
  install_packages
  containers_conf "$LAB" "$PORT"
  start_registry
  local images
  images=$(bash "$here/../build_test_images.sh" "127.0.0.1:$PORT")
  {
    printf 'export CONTAINERS_CONF=%s\n' "$CONTAINERS_CONF"
    printf 'export CONTAINERS_REGISTRIES_CONF=%s\n' "$CONTAINERS_REGISTRIES_CONF"
    printf 'export PORTACLOUD_TEST_REGISTRY=127.0.0.1:%s\n' "$PORT"
    printf '%s\n' "$images"
  } >"$ENVFILE"
  echo "registry up on 127.0.0.1:$PORT (pid $(cat "$PIDFILE")); images:"
  printf '%s\n' "$images"
}

stop() {
  stop_pid "$PIDFILE"
  rm -f "$ENVFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

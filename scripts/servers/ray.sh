#!/usr/bin/env bash
# A single-node Ray head (2 CPUs, 2 fake GPUs) with its Jobs REST API on 127.0.0.1:19111, for
# tests/integration/test_ray.py and the jobs conformance suite (ray://127.0.0.1:19111).
#   scripts/servers/ray.sh start|stop   (normally through scripts/services.sh)
# Every listener is pinned to 127.0.0.1:19110-19149 (19110-19120 daemons, 19121 the Ray Serve
# proxy of services, 19130-19149 workers).
# The daemons share one process group (and session), kept in $LAB/ray.pgid; stop TERMs the
# group and the session's workers, then KILLs what is left after 5 s. Ray's temp dir lives under
# /tmp, not $LAB, because its unix socket paths must stay under 107 characters; its path is kept
# in $LAB/ray.tmpdir. Writes $LAB/ray.env with PORTACLOUD_JOBS_TARGET_RAY and
# PORTACLOUD_TEST_RAY_ADDRESS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
VENV=${VENV:-$(cd "$here/../.." && pwd)/.venv}
mkdir -p "$LAB"

DASHBOARD=19111
SERVE=19121
PGIDFILE="$LAB/ray.pgid"
TMPFILE="$LAB/ray.tmpdir"
BIN="$VENV/bin/ray"

# Live (not zombie) processes of Ray's session: the daemons share its process group, but the
# raylet puts each worker in a group of its own within the same session.
session_pids() {
  ps -eo pid=,sid=,stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ {print $1}'
}

running() {
  [ -s "$PGIDFILE" ] && [ -n "$(session_pids "$(cat "$PGIDFILE")")" ]
}

start() {
  if running; then
    echo "ray already running (process group $(cat "$PGIDFILE"))"
    return 0
  fi
  if [ ! -x "$BIN" ]; then
    echo "$BIN is missing: run 'uv sync --all-packages' (portacloud-ray depends on ray[default])" >&2
    return 1
  fi
  port_free "$DASHBOARD"
  local tmp
  tmp=$(mktemp -d /tmp/pcray.XXXX)
  echo "$tmp" >"$TMPFILE"
  # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps every daemon on 127.0.0.1 (Ray otherwise swaps
  # in the eth0 address and binds '*'); the two *_METRIC_PORT variables pin the two listeners
  # that have no flag. RAY_JOB_START_TIMEOUT_SECONDS bounds how long a job Ray cannot place
  # stays PENDING before Ray fails it. The venv's bin leads PATH so that job entrypoints run
  # the interpreter Ray itself runs on. setsid without job control does not fork, so $! is the
  # process group id of every daemon `ray start` leaves behind.
  # Podman's configuration (runc, ulimits, the loopback registry), inherited by every job.
  containers_conf "$LAB"
  PATH="$VENV/bin:$PATH" \
  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0 \
  AUTOSCALER_METRIC_PORT=19119 DASHBOARD_METRIC_PORT=19120 RAY_JOB_START_TIMEOUT_SECONDS=30 \
    setsid "$BIN" start --head --node-ip-address=127.0.0.1 --port=19110 \
    --dashboard-host=127.0.0.1 --dashboard-port="$DASHBOARD" --include-dashboard=true \
    --ray-client-server-port=19112 --node-manager-port=19113 --object-manager-port=19114 \
    --dashboard-agent-listen-port=19115 --dashboard-agent-grpc-port=19116 \
    --metrics-export-port=19117 --runtime-env-agent-port=19118 \
    --min-worker-port=19130 --max-worker-port=19149 \
    --num-cpus=2 --num-gpus=2 --object-store-memory=200000000 \
    --temp-dir="$tmp" --disable-usage-stats >"$LAB/ray.log" 2>&1 &
  local pg=$!
  echo "$pg" >"$PGIDFILE"
  if ! wait "$pg"; then
    tail -n 30 "$LAB/ray.log" >&2 || true
    stop
    return 1
  fi
  if ! wait_http "http://127.0.0.1:$DASHBOARD/api/version" 60; then
    tail -n 30 "$LAB/ray.log" >&2 || true
    stop
    return 1
  fi
  {
    printf 'export PORTACLOUD_JOBS_TARGET_RAY=ray://127.0.0.1:%s\n' "$DASHBOARD"
    printf 'export PORTACLOUD_TEST_RAY_ADDRESS=http://127.0.0.1:%s\n' "$DASHBOARD"
    # Ray Serve's proxy starts with the first service deployed; every client names its port.
    printf 'export PORTACLOUD_SERVICES_TARGET_RAY=ray://127.0.0.1:%s?serve_port=%s\n' \
      "$DASHBOARD" "$SERVE"
  } >"$LAB/ray.env"
  echo "ray head up: jobs API on http://127.0.0.1:$DASHBOARD (process group $pg, temp $tmp)"
}

stop() {
  if [ -s "$PGIDFILE" ]; then
    local pg pids
    pg=$(cat "$PGIDFILE")
    pids=$(session_pids "$pg")
    if [ -n "$pids" ]; then
      kill -TERM -- "-$pg" 2>/dev/null || true
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      for _ in $(seq 50); do [ -z "$(session_pids "$pg")" ] && break; sleep 0.1; done
      # gcs_server and the autoscaler monitor can ignore TERM for over 20 s.
      kill -KILL -- "-$pg" 2>/dev/null || true
      pids=$(session_pids "$pg")
      # shellcheck disable=SC2086
      [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
      for _ in $(seq 50); do [ -z "$(session_pids "$pg")" ] && break; sleep 0.1; done
    fi
    rm -f "$PGIDFILE"
  fi
  if [ -s "$TMPFILE" ]; then
    local tmp
    tmp=$(cat "$TMPFILE")
    case "$tmp" in /tmp/pcray.*) rm -rf "$tmp" ;; esac
    rm -f "$TMPFILE"
  fi
  rm -f "$LAB/ray.env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

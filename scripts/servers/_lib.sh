# Helpers for scripts/servers/*.sh (sourced, not run).
wait_http() {  # wait_http URL SECONDS: any HTTP answer counts as ready
  for _ in $(seq $(( $2 * 10 ))); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1
  done
  echo "not ready after $2 s: $1" >&2; return 1
}
stop_pid() {  # stop_pid PIDFILE: TERM, wait up to 10 s, then KILL
  [ -s "$1" ] || return 0
  local p; p=$(cat "$1")
  kill -TERM "$p" 2>/dev/null || { rm -f "$1"; return 0; }
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$1"
}
port_free() {  # port_free PORT: fail if something already listens there
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; then
    echo "port $1 is already in use" >&2; return 1; fi
}
containers_conf() {  # containers_conf LAB [REGISTRY_PORT]: write podman's config, export it
  # runc, not crun (crun refuses this kernel's hybrid cgroups), and ulimits the machine
  # grants (podman's defaults are refused without CAP_SYS_RESOURCE); the loopback registry
  # speaks plain HTTP. Exported, so daemons started after it (the Ray head, slurmd) pass it
  # on to the jobs they run. See ../shared/research/containers-and-services.md.
  local dir="$1/containers" port="${2:-${PORTACLOUD_REGISTRY_PORT:-19300}}"
  mkdir -p "$dir"
  chmod a+rx "$1" "$dir"
  cat >"$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=10000:10000", "nproc=10000:10000"]
[engine]
runtime = "runc"
CONF
  cat >"$dir/registries.conf" <<CONF
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:$port"
insecure = true
CONF
  chmod a+r "$dir/containers.conf" "$dir/registries.conf"
  export CONTAINERS_CONF="$dir/containers.conf"
  export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
}

"""Container images on job backends: the reference check and the command an image task runs.

Every backend runs an image job the same way, so that exit codes, logs, cancels, timeouts and
retries behave exactly as for a plain command: where a backend builds the task's command it
calls :func:`container_command`, and runs the result in place of the user's command. That
command is a POSIX shell script around ``podman run`` that

- pulls the image if the node lacks it, bounded by :data:`PULL_TIMEOUT` (a registry that does
  not answer fails the task; it never hangs), and on failure prints a line naming the image
  and exits :data:`INFRA_EXIT_CODE`, podman's own code for "podman itself failed";
- runs the container with ``--rm`` and a name derived from the job id, task index and attempt,
  on the host's network (so it reaches what the node reaches), with the task's variables
  (:data:`TASK_VARIABLES` and the spec's own names, passed by name, so values never show in
  ``ps``), its working directory and a ``file://`` output directory bind-mounted at the same
  paths, and the GPUs in ``CUDA_VISIBLE_DEVICES`` as CDI devices where the node has an NVIDIA
  CDI spec (renumbered from 0 inside the container; elsewhere only the variable is passed);
- stops the container by name when the task is signalled (cancel, timeout) from a process in
  a session of its own, so the stop completes even when the backend then SIGKILLs the task's
  process group; a spec timeout also bounds the container itself (``podman run --timeout``).

Backends turn :data:`INFRA_EXIT_CODE` of an image task into reason INFRA_ERROR (see
:mod:`portacloud.jobs.image_failures`). A string command runs under ``/bin/sh -c`` inside
the image (images rarely have bash); docs/decisions/0008-container-jobs.md gives the reasons.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterable, Sequence
from urllib.parse import unquote, urlsplit

__all__ = [
    "CONTAINER_RUNTIMES",
    "INFRA_EXIT_CODE",
    "PULL_TIMEOUT",
    "TASK_VARIABLES",
    "check_image_reference",
    "container_command",
    "container_runtimes",
    "task_argv",
]

#: The runtimes portacloud can run images with, in order of preference.
CONTAINER_RUNTIMES = ("podman",)
#: The exit code of an image task whose image could not be pulled or started (podman's own).
INFRA_EXIT_CODE = 125
#: Seconds a pull may take before the task fails.
PULL_TIMEOUT = 300
#: Seconds a signalled container gets between ``podman stop``'s SIGTERM and its SIGKILL; short,
#: because Ray SIGKILLs a stopped job's processes 3 s after its own SIGTERM.
STOP_GRACE = 2
#: Variables every backend sets for a task, passed into its container by name.
TASK_VARIABLES = (
    "PORTACLOUD_OUTPUT_URI",
    "PORTACLOUD_JOB_ID",
    "PORTACLOUD_TASK_INDEX",
    "PORTACLOUD_ATTEMPT",
    "CUDA_VISIBLE_DEVICES",
)

# The grammar of github.com/distribution/reference: [domain[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
)
_DOMAIN = rf"(?:{_HOST}|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_MAX_NAME = 255


def check_image_reference(reference: str) -> str:
    """Return ``reference`` if it is a well-formed image reference.

    Args:
        reference: ``[registry[:port]/]name[:tag][@digest]``, as podman and Docker take it.

    Raises:
        ValueError: it is not one (with what is wrong).
    """
    match = _REFERENCE.match(reference)
    if match is None:
        raise ValueError(
            f"{reference!r} is not an image reference "
            "([registry[:port]/]name[:tag][@digest], lower-case name)"
        )
    domain = match["domain"] or ""
    # Like Docker: a first part with no dot, port or brackets is a path component.
    plain = not re.search(r"[.:\[]", domain) and domain != "localhost"
    if domain and plain and not re.fullmatch(_COMPONENT, domain):
        raise ValueError(f"{reference!r}: image repository names are lower-case")
    name = reference.split("@", 1)[0].rsplit(":", 1)[0] if match["tag"] else match["path"]
    if len(name) > _MAX_NAME:
        raise ValueError(f"image name longer than {_MAX_NAME} characters")
    return reference


def container_runtimes() -> tuple[str, ...]:
    """The runtimes of :data:`CONTAINER_RUNTIMES` found on this machine's ``PATH``."""
    return tuple(r for r in CONTAINER_RUNTIMES if shutil.which(r))


def task_argv(command: str | Sequence[str], *, interpreter: str = "/bin/bash") -> list[str]:
    """The argv of a spec's command: ``interpreter -c`` for a string, the list otherwise."""
    return [interpreter, "-c", command] if isinstance(command, str) else list(command)


def _output_dir(output_uri: str | None) -> str | None:
    """The directory of a ``file://`` output URI, which the container needs mounted."""
    if not output_uri:
        return None
    parts = urlsplit(output_uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path).rstrip("/") or "/"
    return None if ":" in path else path  # podman's -v cannot name such a path


def container_command(
    image: str,
    command: str | Sequence[str],
    *,
    env_names: Iterable[str],
    output_uri: str | None,
    timeout: float | None,
) -> list[str]:
    """The argv that runs ``command`` inside ``image`` for one task (see the module's doc).

    Args:
        image: A reference :func:`check_image_reference` accepts.
        command: The spec's command (a string runs under ``/bin/sh -c`` in the image).
        env_names: The spec's own variables, passed by name with :data:`TASK_VARIABLES`.
        output_uri: The job's ``PORTACLOUD_OUTPUT_URI``; a ``file://`` one is bind-mounted.
        timeout: The spec's timeout; the container is bounded by it plus a grace.

    Returns:
        ``["/bin/sh", "-c", SCRIPT, "portacloud-image", *argv]``, run in the task's working
        directory with the task's environment.
    """
    names = list(dict.fromkeys([*env_names, *TASK_VARIABLES]))
    limit = "" if timeout is None else str(int(timeout) + 2 * STOP_GRACE + 1)
    settings = "\n".join(
        [
            f"__pc_img={shlex.quote(image)}",
            f"__pc_pull={PULL_TIMEOUT}",
            f"__pc_grace={STOP_GRACE}",
            f"__pc_limit={limit}",
            f"__pc_out={shlex.quote(_output_dir(output_uri) or '')}",
            f"__pc_envs={shlex.quote(' '.join(names))}",
            f"__pc_infra={INFRA_EXIT_CODE}",
        ]
    )
    return [
        "/bin/sh",
        "-c",
        f"{settings}\n{_SCRIPT}",
        "portacloud-image",
        *task_argv(command, interpreter="/bin/sh"),
    ]


# The body of the wrapper; container_command puts its settings (__pc_*) before it. POSIX sh:
# it runs on the node's /bin/sh, whatever the image holds.
_SCRIPT = r"""
__pc_name=$(printf 'portacloud-%s-%s-%s' "${PORTACLOUD_JOB_ID:-job}" \
  "${PORTACLOUD_TASK_INDEX:-0}" "${PORTACLOUD_ATTEMPT:-1}" | tr -c 'A-Za-z0-9_.-' '-')
if ! command -v podman >/dev/null 2>&1; then
  echo "portacloud: image $__pc_img: podman is not installed on this node" >&2
  exit "$__pc_infra"
fi
# Podman configuration passed on from the submitter applies only where it exists on this node.
[ -n "${CONTAINERS_CONF:-}" ] && [ ! -e "$CONTAINERS_CONF" ] && unset CONTAINERS_CONF
[ -n "${CONTAINERS_REGISTRIES_CONF:-}" ] && [ ! -e "$CONTAINERS_REGISTRIES_CONF" ] &&
  unset CONTAINERS_REGISTRIES_CONF
# A registry on loopback speaks plain HTTP, as Docker assumes for 127.0.0.0/8.
__pc_tls=
case "$__pc_img" in 127.*|localhost[:/]*|\[::1\]*) __pc_tls=--tls-verify=false ;; esac
if ! podman image exists "$__pc_img" 2>/dev/null; then
  __pc_err=$(timeout "$__pc_pull" podman pull -q $__pc_tls "$__pc_img" 2>&1 >/dev/null)
  __pc_rc=$?
  if [ "$__pc_rc" != 0 ]; then
    [ "$__pc_rc" = 124 ] && __pc_err="no answer within $__pc_pull s"
    __pc_err=$(printf '%s\n' "$__pc_err" | tail -n 1)
    echo "portacloud: cannot pull image $__pc_img: ${__pc_err:-podman pull failed}" >&2
    exit "$__pc_infra"
  fi
fi
set -- "$__pc_img" "$@"
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ] && { [ -e /etc/cdi/nvidia.yaml ] ||
    [ -e /var/run/cdi/nvidia.yaml ] || [ -e /etc/cdi/nvidia.json ]; }; then
  __pc_i=0
  __pc_inner=
  for __pc_g in $(printf '%s' "$CUDA_VISIBLE_DEVICES" | tr ',' ' '); do
    set -- --device "nvidia.com/gpu=$__pc_g" "$@"
    __pc_inner="$__pc_inner${__pc_inner:+,}$__pc_i"
    __pc_i=$((__pc_i + 1))
  done
  CUDA_VISIBLE_DEVICES=$__pc_inner  # the container sees only its GPUs, from 0
  export CUDA_VISIBLE_DEVICES
fi
for __pc_v in $__pc_envs; do set -- -e "$__pc_v" "$@"; done
if [ -n "$__pc_out" ] && mkdir -p "$__pc_out"; then set -- -v "$__pc_out:$__pc_out" "$@"; fi
__pc_cwd=$(pwd -P)
set -- -v "$__pc_cwd:$__pc_cwd" -w "$__pc_cwd" "$@"
[ -n "$__pc_limit" ] && set -- --timeout "$__pc_limit" "$@"
__pc_stop() {
  setsid podman stop -i -t "$__pc_grace" "$__pc_name" </dev/null >/dev/null 2>&1 &
  wait "$!"
}
trap __pc_stop TERM INT HUP
podman run --rm --replace --name "$__pc_name" --network host --pull never "$@" </dev/null &
__pc_pid=$!
__pc_code=
# A trapped signal interrupts wait: wait on until podman itself has ended.
until [ -n "$__pc_code" ] && ! kill -0 "$__pc_pid" 2>/dev/null; do
  wait "$__pc_pid"
  __pc_code=$?
done
exit "$__pc_code"
"""

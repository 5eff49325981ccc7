"""The :class:`ServiceStatus` a controller writes, built from its records."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

from portacloud.services.controller_state import ControllerState, Desired, Phase, Replica
from portacloud.services.models import ReplicaStatus, ServiceState, ServiceStatus
from portacloud.services.router import ROUTER_FILE

__all__ = ["endpoint_url", "service_status", "tail_lines"]

_TAIL_BYTES = 16 << 10


def tail_lines(path: Path, lines: int = 10) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def endpoint_url(state: Path) -> str | None:
    """The router's URL, once it listens (``router.json``)."""
    try:
        data = json.loads((state / ROUTER_FILE).read_text())
    except (OSError, ValueError):
        return None
    host = str(data.get("host") or "127.0.0.1")
    if host in ("0.0.0.0", "::"):  # noqa: S104 - reading what the router bound, not binding
        host = socket.gethostname()
    return f"http://{host}:{data['port']}"


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _replica_state(replica: Replica, pending: bool) -> ServiceState:
    phase = replica.phase
    if phase is Phase.WAITING:
        return ServiceState.NOT_READY if replica.restarts else ServiceState.PENDING
    if phase is Phase.STARTING:
        return ServiceState.PENDING if pending else ServiceState.STARTING
    return {
        Phase.READY: ServiceState.READY,
        Phase.DRAINING: ServiceState.STOPPING,
        Phase.FAILED: ServiceState.FAILED,
    }[phase]


def _replica_status(replica: Replica, pending: bool) -> ReplicaStatus:
    state = _replica_state(replica, pending)
    return ReplicaStatus(
        id=replica.id,
        state=state,
        reason=None if state is ServiceState.READY else replica.reason,
        url=replica.url,
        version=replica.version,
        restarts=replica.restarts,
        started_at=_utc(replica.started_at),
        gpus=tuple(replica.gpus),
    )


def _overall(cstate: ControllerState, desired: Desired) -> tuple[ServiceState, str | None]:
    replicas = cstate.replicas
    failed = [r for r in replicas if r.phase is Phase.FAILED and r.version == desired.version]
    if failed:
        return ServiceState.FAILED, f"replica {failed[0].id}: {failed[0].reason}"
    ready = sum(1 for r in replicas if r.phase is Phase.READY and r.version == desired.version)
    if any(r.version != desired.version for r in replicas):
        return ServiceState.UPDATING, f"rolling onto version {desired.version}"
    if any(r.phase is Phase.DRAINING for r in replicas):
        return ServiceState.UPDATING, "stopping replicas"
    if ready >= desired.replicas:
        return ServiceState.READY, None
    missing = f"{ready} of {desired.replicas} replicas ready"
    if cstate.ever_ready:
        return ServiceState.NOT_READY, missing
    started = any(r.phase is not Phase.WAITING for r in replicas)
    return (ServiceState.STARTING if started else ServiceState.PENDING), missing


def service_status(
    state: Path,
    cstate: ControllerState,
    desired: Desired,
    *,
    pending: set[str],
    final: ServiceState | None = None,
) -> ServiceStatus:
    """The status of the service in ``state`` (``final``: STOPPING or STOPPED on delete)."""
    overall, reason = (final, "deleted") if final is not None else _overall(cstate, desired)
    endpoint = None if final is ServiceState.STOPPED else endpoint_url(state)
    if endpoint is None and overall is ServiceState.READY:
        overall, reason = ServiceState.STARTING, "the router is starting"
    return ServiceStatus(
        name=desired.spec.name,
        state=overall,
        reason=reason,
        endpoint_url=endpoint,
        version=desired.version,
        desired_replicas=desired.replicas,
        replicas=tuple(_replica_status(r, r.id in pending) for r in cstate.replicas),
        created_at=_utc(desired.created_at),
        spec=desired.spec,
    )

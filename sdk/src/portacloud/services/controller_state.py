"""The files a service's controller and its driver share, and the controller's own memory.

A service lives in one state directory:

- ``desired.json``: what the driver wants (:class:`Desired`), written atomically by it only;
- ``controller.json``: the controller's persisted state (:class:`ControllerState`): every
  replica's launcher token, port, GPUs and counters, so a restarted controller finds its
  replicas and a driver can stop them when the controller is gone;
- ``status.json``: the last :class:`~portacloud.services.models.ServiceStatus` the controller
  wrote; the driver's ``get`` returns it;
- ``backends.json`` / ``router.json``: the router's (see :mod:`portacloud.services.router`);
- ``logs/REPLICA.log``, ``work/REPLICA/`` and ``shipped/vN/`` (a version's copied workdir).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from portacloud.services.models import ServiceSpec
from portacloud.services.router import write_json

__all__ = [
    "CONTROLLER_FILE",
    "DESIRED_FILE",
    "PID_FILE",
    "STATUS_FILE",
    "ControllerState",
    "Desired",
    "Phase",
    "Replica",
    "log_path",
    "read_desired",
    "shipped_dir",
]

DESIRED_FILE = "desired.json"
CONTROLLER_FILE = "controller.json"
STATUS_FILE = "status.json"
#: The running controller's ``PID:STARTTIME`` token.
PID_FILE = "controller.pid"


class Desired(BaseModel):
    """What the driver asks the controller for.

    Attributes:
        spec: The spec of ``version``.
        version: Bumped by every update (1 after deploy).
        replicas: The replica count wanted now.
        deleted: Stop everything, write a final STOPPED status and exit.
        created_at: When the service was deployed (seconds since the epoch).
    """

    model_config = ConfigDict(frozen=True)

    spec: ServiceSpec
    version: int = Field(default=1, ge=1)
    replicas: int = Field(ge=0)
    deleted: bool = False
    created_at: float


def read_desired(state: Path) -> Desired:
    """The driver's ``desired.json`` of the service in ``state``."""
    return Desired.model_validate_json((state / DESIRED_FILE).read_text())


def log_path(state: Path, replica: str) -> Path:
    """Where a replica's stdout and stderr go."""
    return state / "logs" / f"{replica}.log"


def shipped_dir(state: Path, version: int) -> Path:
    """Where the driver keeps the copy of version ``version``'s workdir."""
    return state / "shipped" / f"v{version}"


class Phase(StrEnum):
    """Where the controller has a replica."""

    WAITING = "WAITING"  # to be (re)started once its backoff and placement allow
    STARTING = "STARTING"  # launched; no probe has passed since
    READY = "READY"  # in backends.json
    DRAINING = "DRAINING"  # out of backends.json; stopped once its drain grace is over
    FAILED = "FAILED"  # crashed max_start_failures times in a row before ever being ready


@dataclass
class Replica:
    """One replica as the controller tracks it (a plain record, saved as JSON).

    Attributes:
        id: ``NAME-vVERSION-N``, stable across restarts.
        version: The service version it runs.
        phase: Where the controller has it.
        token: The launcher's token of its current process, if one was started.
        port: The port the controller chose for it, if any.
        gpus: The GPU indexes it holds.
        url: Where it serves, once known.
        restarts: How many times it was restarted.
        start_failures: Crashes in a row that happened before it became ready.
        probe_failures: Failed probes in a row since it last passed one.
        started_at: When its current process was started (epoch seconds).
        next_start_at: The earliest time a WAITING replica may start (its backoff).
        drain_until: When a DRAINING replica is stopped.
        expires_at: When the backend will end it (a walltime), if it says so.
        reason: Why it is not ready (the last exit, the last probe error).
        renewing: It is being replaced before it expires; a successor runs beside it.
    """

    id: str
    version: int
    phase: Phase = Phase.WAITING
    token: str | None = None
    port: int | None = None
    gpus: list[int] = field(default_factory=list)
    url: str | None = None
    restarts: int = 0
    start_failures: int = 0
    probe_failures: int = 0
    started_at: float | None = None
    next_start_at: float = 0.0
    drain_until: float | None = None
    expires_at: float | None = None
    reason: str | None = None
    renewing: bool = False

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Replica:
        """The record of :meth:`to_json`'s output."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        replica = cls(**known)  # type: ignore[arg-type]
        replica.phase = Phase(replica.phase)
        return replica

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class ControllerState:
    """What the controller persists in ``controller.json``.

    Attributes:
        pid: The controller's pid.
        replicas: Every replica it has not yet stopped, oldest first.
        next_index: The number of the next replica id.
        router_token: The router process's token, once started.
        ever_ready: Some replica has been ready since deploy (STARTING vs NOT_READY).
    """

    pid: int
    replicas: list[Replica] = field(default_factory=list)
    next_index: int = 1
    router_token: str | None = None
    ever_ready: bool = False

    @classmethod
    def load(cls, state: Path) -> ControllerState | None:
        """The state saved in ``state``, or ``None`` if there is none yet."""
        try:
            data = json.loads((state / CONTROLLER_FILE).read_text())
        except FileNotFoundError:
            return None
        return cls(
            pid=int(data["pid"]),
            replicas=[Replica.from_json(r) for r in data.get("replicas", ())],
            next_index=int(data.get("next_index", 1)),
            router_token=data.get("router_token"),
            ever_ready=bool(data.get("ever_ready", False)),
        )

    def save(self, state: Path) -> None:
        """Write ``controller.json`` atomically."""
        write_json(state / CONTROLLER_FILE, self.to_json())

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "pid": self.pid,
            "replicas": [r.to_json() for r in self.replicas],
            "next_index": self.next_index,
            "router_token": self.router_token,
            "ever_ready": self.ever_ready,
        }

    def new_replica(self, name: str, version: int) -> Replica:
        """Add a WAITING replica of ``version`` with a fresh id."""
        replica = Replica(id=f"{name}-v{version}-{self.next_index}", version=version)
        self.next_index += 1
        self.replicas.append(replica)
        return replica


def pid_of(path: Path) -> int | None:
    """The ``pid`` a JSON file records, if it exists and says one."""
    try:
        value = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None


def ensure_dirs(state: Path) -> None:
    """Create the service's sub-directories (private, as all portacloud state)."""
    for sub in ("logs", "work", "shipped"):
        (state / sub).mkdir(mode=0o700, exist_ok=True)
    os.chmod(state, 0o700)

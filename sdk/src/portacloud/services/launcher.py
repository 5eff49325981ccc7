"""How the services controller starts replicas: the small Protocol each backend fills in.

The controller (one detached process per service, shared by ``local://`` and ``slurm://``)
owns everything portable: readiness probes, restarts with backoff, rolling updates, scaling,
walltime renewal and the router's ``backends.json``. A launcher owns only how one replica
process is started, found, stopped and read: a subprocess here, an ``sbatch`` job on Slurm.
Launcher tokens are plain strings (a pid, a Slurm job id) because the controller persists them
in its state file and must find its replicas again after a restart of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from portacloud.services.models import ServiceSpec

__all__ = ["LaunchState", "Launched", "ReplicaLauncher", "ReplicaPlan"]


@dataclass(frozen=True, kw_only=True)
class ReplicaPlan:
    """What one replica is started with.

    Attributes:
        service: The service's name.
        replica: The replica's id (``NAME-v2-3``), unique within the service for its life.
        version: The service version the replica runs.
        spec: The spec of that version.
        env: The whole extra environment: the spec's env plus ``PORTACLOUD_SERVICE``,
            ``PORTACLOUD_REPLICA`` and, where the controller chose it, ``PORT``.
        port: The port the controller chose (``local://``), or ``None`` where the replica
            picks its own and the launcher reports it (``slurm://``).
        gpus: The GPU indexes given to the replica (``CUDA_VISIBLE_DEVICES``), if any.
        log_path: Where the replica's stdout and stderr go.
        workdir: The directory the replica runs in (a copy of the spec's workdir, or scratch).
    """

    service: str
    replica: str
    version: int
    spec: ServiceSpec
    env: Mapping[str, str]
    port: int | None
    gpus: tuple[int, ...]
    log_path: Path
    workdir: Path


class LaunchState(StrEnum):
    """Where a launched replica process is (readiness is the controller's own business)."""

    PENDING = "PENDING"  # queued: not running yet (a Slurm job waiting for a node)
    RUNNING = "RUNNING"
    EXITED = "EXITED"  # ended by itself, killed, or lost with its node


@dataclass(frozen=True, kw_only=True)
class Launched:
    """What a launcher reports about one replica process.

    Attributes:
        state: Where it is.
        url: ``http://host:port`` once known.
        exit_code: Its exit code once EXITED, where known.
        expires_at: When the backend will stop it (a Slurm walltime), or ``None``.
        reason: The backend's own word on why it is PENDING or EXITED.
    """

    state: LaunchState
    url: str | None = None
    exit_code: int | None = None
    expires_at: datetime | None = None
    reason: str | None = None


class ReplicaLauncher(Protocol):
    """Starts, finds and stops replica processes for the controller."""

    def start(self, plan: ReplicaPlan) -> str:
        """Start one replica and return its token (a pid, a job id). Never blocks on it."""

    def poll(self, token: str, plan: ReplicaPlan) -> Launched:
        """Where the replica of ``token`` is now."""

    def stop(self, token: str, *, grace: float) -> None:
        """Stop it: SIGTERM, then SIGKILL after ``grace`` seconds. Stopping an ended one is
        not an error."""

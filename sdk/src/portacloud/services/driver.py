"""The Protocol a service backend implements.

Drivers receive specs the portable :class:`~portacloud.services.services.Services` has
validated and checked against the driver's capabilities. A driver keeps each service alive on
its own (a supervisor, Ray Serve's controller, the Slurm scheduler): nothing it starts may
depend on the process that called ``deploy`` staying alive.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Protocol

from portacloud.errors import PortaCloudError
from portacloud.services.models import ServiceCapabilities, ServiceSpec, ServiceStatus

__all__ = ["ServiceDriver"]


class ServiceDriver(Protocol):
    """The operations every service backend provides.

    Attributes:
        provider: Short provider name (``"local"``, ``"ray"``, ``"slurm"``).
        capabilities: What this backend can do.
    """

    provider: str
    capabilities: ServiceCapabilities

    def deploy(self, spec: ServiceSpec) -> ServiceStatus:
        """Start a new service and return its first status (without waiting for READY).

        Raise ALREADY_EXISTS when a service of that name runs. A request the backend can
        never satisfy (more GPUs than it has) must raise, not wait forever.
        """

    def update(self, spec: ServiceSpec) -> ServiceStatus:
        """Roll the service of ``spec.name`` onto ``spec`` (version + 1) and return at once.

        The rollout itself (start new, wait ready, move traffic, stop old, never fewer ready
        replicas than ``replicas - max_unavailable``) runs in the backend. NOT_FOUND for an
        unknown name.
        """

    def scale(self, name: str, replicas: int) -> ServiceStatus:
        """Change the desired replica count; NOT_FOUND for an unknown name."""

    def get(self, name: str) -> ServiceStatus:
        """Describe a service; NOT_FOUND for an unknown name."""

    def list(self) -> builtins.list[ServiceStatus]:
        """Every service the backend knows, by name."""

    def delete(self, name: str) -> None:
        """Stop serving, stop every replica, free their ports and GPUs, and forget it.

        NOT_FOUND for an unknown name. Returns once nothing of it runs.
        """

    def logs(self, name: str, replica: str | None) -> str:
        """The replicas' output so far: all (each line prefixed ``[REPLICA] ``) or one."""

    def follow_logs(self, name: str, replica: str | None) -> Iterator[str]:
        """Yield log text as it is written, ending when the service is deleted."""

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a native exception, or return ``None`` if it is not this driver's."""

    def native(self) -> object | None:
        """The vendor client behind this driver."""

    def close(self) -> None:
        """Release connections (never stops a service)."""

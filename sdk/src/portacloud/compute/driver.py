"""The Protocol a compute backend implements.

Drivers get specs the portable :class:`~portacloud.compute.compute.Compute` has validated and
resolved: a concrete instance type, a provider image id, and the full tag set (managed tags
included). They map native states onto :class:`InstanceState` in one table.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from portacloud.compute.models import ComputeCapabilities, Instance
from portacloud.errors import PortaCloudError

__all__ = ["ComputeDriver", "LaunchRequest", "SupportsLocation"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchRequest:
    """A resolved spec: everything a driver needs to launch one instance."""

    name: str
    instance_type: str
    image: str
    tags: Mapping[str, str] = field(default_factory=dict)
    spot: bool = False
    ssh_public_key: str | None = None
    gpu: str | None = None
    gpu_count: int = 0


class ComputeDriver(Protocol):
    """Operations every compute backend provides.

    Attributes:
        provider: Short name (``aws``, ``local``, ``libcloud+gce``...).
        capabilities: What it can do.
        region: The region (or zone) it works in.
    """

    provider: str
    capabilities: ComputeCapabilities
    region: str

    def create(self, request: LaunchRequest) -> Instance:
        """Launch one instance and describe it (usually PENDING)."""

    def get(self, instance_id: str) -> Instance:
        """Describe an instance; NOT_FOUND when the provider does not know the id."""

    def list(self, tags: Mapping[str, str]) -> builtins.list[Instance]:
        """Instances carrying every given tag (all when empty), terminated ones included if
        the provider still reports them."""

    def start(self, instance_id: str) -> Instance:
        """Start a stopped instance."""

    def stop(self, instance_id: str) -> Instance:
        """Stop a running instance."""

    def terminate(self, instance_id: str) -> Instance:
        """Terminate; terminating a terminated instance is not an error."""

    def resolve_image(self, image: str) -> str:
        """Map a portable image name (``ubuntu-22.04``) to an image id; pass ids through."""

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a native exception, or return ``None`` if it is not this driver's."""

    def native(self) -> object | None:
        """The vendor client."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class SupportsLocation(Protocol):
    """Drivers that ask the provider which region they create instances in.

    Used only where ``capabilities.location`` is true.
    """

    def reported_region(self) -> str:
        """The region as the provider names it, lower-case (``eu-west-1``)."""

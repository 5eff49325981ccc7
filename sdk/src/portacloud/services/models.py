"""Portable service specs, states and statuses (docs/services.md).

A service is a set of identical replicas, each an HTTP server listening on the port its
backend gives it in ``$PORT`` (the Cloud Run and Heroku convention, so that replicas can share
a host), behind one endpoint that sends traffic only to replicas whose readiness probe passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from portacloud.capability_table import CapabilityTable
from portacloud.jobs.models import JobSpec
from portacloud.resources import Resources

__all__ = [
    "PORT_ENV",
    "Readiness",
    "ReplicaRange",
    "ReplicaStatus",
    "ServiceCapabilities",
    "ServiceSpec",
    "ServiceState",
    "ServiceStatus",
    "UpdatePolicy",
]

#: The variable that tells each replica which port to listen on.
PORT_ENV = "PORT"


class ServiceState(StrEnum):
    """The normalised state of a service or of one replica."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    READY = "READY"
    NOT_READY = "NOT_READY"
    UPDATING = "UPDATING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"

    @property
    def ended(self) -> bool:
        """Whether nothing will run any more without a new deploy."""
        return self in (ServiceState.STOPPED, ServiceState.FAILED)


class Readiness(BaseModel):
    """The HTTP probe that decides whether a replica gets traffic.

    Attributes:
        path: The path probed with ``GET``; any 2xx or 3xx answer counts as ready.
        initial_delay: Seconds after start before the first probe.
        period: Seconds between probes.
        timeout: Seconds one probe may take.
        failure_threshold: Consecutive failed probes after which a ready replica is taken
            out of traffic (NOT_READY) and restarted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = "/"
    initial_delay: float = Field(default=0.0, ge=0, le=3600)
    period: float = Field(default=1.0, gt=0, le=300)
    timeout: float = Field(default=1.0, gt=0, le=300)
    failure_threshold: int = Field(default=3, ge=1, le=100)

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"readiness path must start with '/' and hold no spaces: {value!r}")
        return value


class UpdatePolicy(BaseModel):
    """How a rolling update replaces replicas.

    Attributes:
        max_surge: Replicas that may run above the desired count while new ones start.
        max_unavailable: Ready replicas the update may take away at once; the service never
            has fewer than ``replicas - max_unavailable`` ready replicas during an update.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_surge: int = Field(default=1, ge=0, le=100)
    max_unavailable: int = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _can_progress(self) -> Self:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("update: max_surge and max_unavailable cannot both be 0")
        return self


class ReplicaRange(BaseModel):
    """An autoscaled replica count (capability ``autoscaling``).

    Attributes:
        min: The fewest replicas; the service starts with this many.
        max: The most replicas.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: int = Field(ge=1, le=100)
    max: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"replicas: min ({self.min}) is above max ({self.max})")
        return self


class ServiceSpec(BaseModel):
    """A long-running service.

    Attributes:
        name: A short name (letters, digits, ``_.-``; up to 63 characters), unique per backend.
        command: A shell command line, or an argv list, that starts one replica: an HTTP
            server listening on ``$PORT``.
        image: A container image the command runs in (capability ``images``).
        workdir: A local directory shipped to every replica's working directory.
        env: Extra environment variables (``PORT`` and ``PORTACLOUD_*`` are reserved).
        resources: CPUs, memory and GPUs each replica needs.
        replicas: A count, or ``{"min", "max"}`` for an autoscaled service.
        readiness: The probe that gates traffic.
        update: How :meth:`~portacloud.services.Services.update` rolls.
        max_start_failures: Consecutive crashes before readiness after which a replica is
            FAILED instead of restarted again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    command: str | tuple[str, ...]
    image: str | None = None
    workdir: str | None = None
    env: Mapping[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    replicas: int | ReplicaRange = Field(default=1)
    readiness: Readiness = Field(default_factory=Readiness)
    update: UpdatePolicy = Field(default_factory=UpdatePolicy)
    max_start_failures: int = Field(default=3, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _drop_kind(cls, data: object) -> object:
        # A spec file says `kind: service`; the model is the service itself.
        if isinstance(data, Mapping) and "kind" in data:
            kind = data["kind"]
            if not isinstance(kind, str) or kind.lower() != "service":
                raise ValueError(f"kind must be 'service' here, not {kind!r}")
            return {k: v for k, v in data.items() if k != "kind"}
        return data

    @model_validator(mode="after")
    def _check_shared(self) -> Self:
        # The name, command, image and env rules are the jobs' own: one set of rules.
        JobSpec(
            name=self.name,
            command=self.command,
            image=self.image,
            env=self.env,
            resources=self.resources,
        )
        if PORT_ENV in self.env:
            raise ValueError(f"env {PORT_ENV!r} is reserved: the backend sets each replica's port")
        if isinstance(self.replicas, int) and not 0 <= self.replicas <= 100:
            raise ValueError("replicas must be between 0 and 100")
        return self

    @property
    def initial_replicas(self) -> int:
        """How many replicas a deploy starts."""
        return self.replicas if isinstance(self.replicas, int) else self.replicas.min

    @property
    def most_replicas(self) -> int:
        """The most replicas it may run: the count, or the range's max."""
        return self.replicas if isinstance(self.replicas, int) else self.replicas.max

    @property
    def autoscaled(self) -> bool:
        """Whether the count is a range the backend scales within."""
        return isinstance(self.replicas, ReplicaRange) and self.replicas.min != self.replicas.max


class ReplicaStatus(BaseModel):
    """One replica.

    Attributes:
        id: The backend's id for it (stable for the replica's life).
        state: Its state.
        reason: Why it is in that state, when it is not READY.
        url: Where it serves (``http://host:port``), once known.
        version: The service version it runs.
        restarts: How many times it was restarted.
        started_at: When its current process started.
        gpus: The GPU indexes it was given, where the backend assigns them.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    state: ServiceState
    reason: str | None = None
    url: str | None = None
    version: int = 1
    restarts: int = 0
    started_at: datetime | None = None
    gpus: tuple[int, ...] = ()


class ServiceStatus(BaseModel):
    """A service and its replicas.

    Attributes:
        name: The spec's name.
        state: READY when at least one replica serves and none is missing; NOT_READY when
            some are missing; UPDATING during a rolling update; FAILED with a reason.
        reason: Why it is not READY (a failed replica's last log lines, for instance).
        endpoint_url: The one URL that reaches the service (``http://host:port``).
        version: Bumped by every update (1 after deploy).
        desired_replicas: How many replicas it should have.
        replicas: Each replica's status.
        created_at: When it was deployed.
        spec: The spec it runs now.
        price_per_hour: USD per hour of its replicas (the profile's rates on backends without
            a list price), on a handle with a cost policy; ``None`` otherwise.
        cost: USD spent since it was deployed, on a handle with a cost policy.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    state: ServiceState
    reason: str | None = None
    endpoint_url: str | None = None
    version: int = 1
    desired_replicas: int = 1
    replicas: tuple[ReplicaStatus, ...] = ()
    created_at: datetime | None = None
    spec: ServiceSpec | None = None
    price_per_hour: float | None = None
    cost: float | None = None

    @property
    def ready_replicas(self) -> int:
        """How many replicas are READY."""
        return sum(1 for r in self.replicas if r.state is ServiceState.READY)


class ServiceCapabilities(CapabilityTable):
    """What a service backend can do.

    Attributes:
        gpus: Replicas can ask for GPUs and see exactly theirs in ``CUDA_VISIBLE_DEVICES``.
        gpu_types: GPU models can be requested by name.
        images: Replicas can run in container images.
        workdir: A local workdir is shipped to replicas.
        autoscaling: ``replicas: {min, max}`` with min below max.
        rolling_update: ``update`` replaces replicas without dropping requests.
        restarts: A crashed or unready replica is restarted by the backend.
        replica_logs: One replica's log can be read on its own.
        follow_logs: Logs can be followed.
        max_replicas: The most replicas one service may have (``None``: no bound here).
        outlives_client: The service keeps running after the deploying process exits.
        endpoint: What serves the endpoint (``"portacloud router"``, ``"Ray Serve proxy"``).
    """

    gpus: bool = False
    gpu_types: bool = False
    images: bool = False
    workdir: bool = False
    autoscaling: bool = False
    rolling_update: bool = True
    restarts: bool = True
    replica_logs: bool = True
    follow_logs: bool = True
    max_replicas: int | None = None
    outlives_client: bool = True
    endpoint: str = "portacloud router"

"""Portable job specs, states, reasons and statuses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portacloud.capability_table import CapabilityTable
from portacloud.jobs.containers import check_image_reference
from portacloud.resources import Resources

__all__ = [
    "RESERVED_ENV_PREFIX",
    "JobCapabilities",
    "JobReason",
    "JobSpec",
    "JobState",
    "JobStatus",
    "TaskStatus",
]

RESERVED_ENV_PREFIX = "PORTACLOUD_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class JobState(StrEnum):
    """Normalised job states; every backend maps its own onto these in one table."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        """Whether the job can no longer change state."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class JobReason(StrEnum):
    """Why a job ended the way it did (separate from its state)."""

    USER_ERROR = "USER_ERROR"
    TIMEOUT = "TIMEOUT"
    OOM = "OOM"
    PREEMPTED = "PREEMPTED"
    NODE_FAILURE = "NODE_FAILURE"
    NO_CAPACITY = "NO_CAPACITY"
    INVALID_SPEC = "INVALID_SPEC"
    INFRA_ERROR = "INFRA_ERROR"
    USER_CANCELLED = "USER_CANCELLED"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


class JobSpec(BaseModel):
    """A job that runs unchanged on any queue.

    Attributes:
        name: A short name (letters, digits, ``_.-``; up to 63 characters).
        command: A shell command line, or an argv list run without a shell.
        image: A container image (``registry[:port]/name[:tag][@digest]``) the command runs
            in, on backends whose capability ``images`` is true; a string command then runs
            under ``/bin/sh -c`` inside it (see :mod:`portacloud.jobs.containers`).
        resources: CPUs, memory and GPUs the job needs.
        env: Extra environment variables (names starting with ``PORTACLOUD_`` are reserved).
        workdir: A local directory, with the files the command needs (``train.py``), shipped
            with the job: every task runs in its own copy of it, on every backend. A
            relative path is resolved at submit, against the current directory (or the
            spec file's). ``.gitignore`` and ``.portacloudignore`` patterns leave files out;
            it may ship at most 100 MiB unless ``submit(workdir_limit_mb=...)`` says
            otherwise. ``None``: a fresh, empty scratch directory.
        timeout: Seconds one attempt may run before it is killed (reason TIMEOUT).
        retries: How many times a failed attempt is run again (0 to 10).
        array: Run this many tasks, each seeing its ``PORTACLOUD_TASK_INDEX``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    command: str | tuple[str, ...]
    image: str | None = None
    resources: Resources = Field(default_factory=Resources)
    env: Mapping[str, str] = Field(default_factory=dict)
    workdir: str | None = Field(
        default=None,
        description=(
            "A local directory shipped to every task's working directory (relative: to the "
            "spec file's directory). .gitignore and .portacloudignore patterns leave files "
            "out; at most 100 MiB by default."
        ),
    )
    timeout: float | None = Field(default=None, gt=0, le=30 * 86400)
    retries: int = Field(default=0, ge=0, le=10)
    array: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("command")
    @classmethod
    def _check_command(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("the command is empty")
        elif not value or not all(isinstance(a, str) for a in value):
            raise ValueError("an argv command needs at least one string")
        if "\x00" in (value if isinstance(value, str) else "".join(value)):
            raise ValueError("the command contains NUL")
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str | None) -> str | None:
        return None if value is None else check_image_reference(value)

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for name, val in value.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"environment variable name {name!r} is not valid")
            if name.upper().startswith(RESERVED_ENV_PREFIX):
                raise ValueError(
                    f"{name!r}: names starting with {RESERVED_ENV_PREFIX} are reserved"
                )
            if "\x00" in val:
                raise ValueError(f"environment variable {name!r} contains NUL")
        return dict(value)

    @property
    def tasks(self) -> int:
        """How many tasks the job runs (1 unless it is an array)."""
        return self.array or 1


class TaskStatus(BaseModel):
    """One task of a job (an array job has several).

    Attributes:
        index: The task's ``PORTACLOUD_TASK_INDEX``.
        state: Its state.
        reason: Why it ended that way, once it has.
        exit_code: The last attempt's exit code, when it exited.
        attempt: The attempt number (1 for the first run).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    state: JobState
    reason: JobReason | None = None
    exit_code: int | None = None
    attempt: int = 0


class JobStatus(BaseModel):
    """Where a job stands.

    Attributes:
        id: The queue's id for the job.
        name: The spec's name.
        state: The normalised state (for arrays: the tasks' combined state).
        reason: Why the job ended that way, once it has (USER_ERROR, TIMEOUT...).
        message: The backend's own explanation, when it gave one.
        exit_code: The exit code of the (first failing, else last) task.
        attempt: The highest attempt number among the tasks (1 for the first run).
        submitted_at: When it was submitted (UTC).
        started_at: When its first task started.
        ended_at: When its last task ended.
        output_uri: Where the job writes artifacts (``PORTACLOUD_OUTPUT_URI``).
        tasks: Per-task states, for array jobs.
        price_per_hour: USD per hour while it runs (the profile's rates on queues without a
            list price), when the job was submitted through a handle with a cost policy.
        cost: USD so far, or in total once it ended; ``None`` where the price is unknown.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    state: JobState
    reason: JobReason | None = None
    message: str | None = None
    exit_code: int | None = None
    attempt: int = 0
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    output_uri: str | None = None
    tasks: tuple[TaskStatus, ...] = ()
    price_per_hour: float | None = None
    cost: float | None = None


class JobCapabilities(CapabilityTable):
    """What a job backend can do.

    Attributes:
        gpus: Jobs can ask for GPUs and see exactly those in ``CUDA_VISIBLE_DEVICES``.
        gpu_types: GPU models can be requested by name.
        arrays: Array jobs.
        retries: Failed attempts are run again.
        timeouts: Attempts are killed after ``timeout`` seconds.
        cancel_pending: A job that has not started can be cancelled.
        images: Container images (``JobSpec.image``).
        container_runtimes: The runtimes image jobs run with (``podman``), found where the
            backend runs its tasks.
        follow_logs: Logs can be followed while the job runs.
        delete: Ended jobs can be removed, with their logs and work directories.
        workdir: A local ``workdir`` ships with the job to every task's working directory.
        max_workdir_mb: The most MiB a workdir can ship here (0: no bound of the backend's
            own; the queue's default limit still applies).
        task_logs: One task's log can be read on its own (``logs(job_id, task=N)``).
        max_gpus_per_job: The most GPUs one job can ever get here (0 when it has none),
            read from the backend when the queue is opened.
    """

    gpus: bool = True
    gpu_types: bool = False
    arrays: bool = True
    retries: bool = True
    timeouts: bool = True
    cancel_pending: bool = True
    images: bool = False
    container_runtimes: tuple[str, ...] = ()
    follow_logs: bool = True
    delete: bool = False
    workdir: bool = False
    max_workdir_mb: int = 0
    task_logs: bool = False
    max_gpus_per_job: int = 0

"""The Protocol a job backend implements.

Drivers receive specs the portable :class:`~portacloud.jobs.queue.JobQueue` has validated and
checked against the driver's capabilities, and an environment that already holds the job's
``PORTACLOUD_OUTPUT_URI`` and the user's variables. The driver adds ``PORTACLOUD_JOB_ID`` and
``PORTACLOUD_TASK_INDEX``, and maps its native states onto :class:`JobState` in one table.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from portacloud.errors import PortaCloudError
from portacloud.jobs.models import JobCapabilities, JobSpec, JobStatus

__all__ = ["JobDriver", "SupportsDelete", "SupportsTaskLogs"]


class JobDriver(Protocol):
    """The operations every job backend provides.

    Attributes:
        provider: Short provider name (``"local"``, ``"ray"``, ``"slurm"``).
        capabilities: What this backend can do.
    """

    provider: str
    capabilities: JobCapabilities

    def submit(self, spec: JobSpec, *, env: Mapping[str, str], output_uri: str) -> str:
        """Submit ``spec`` and return the job's id.

        A request the backend can never satisfy (more GPUs than it has) must not wait
        forever: either raise, or return an id whose status is FAILED with reason
        NO_CAPACITY.
        """

    def status(self, job_id: str) -> JobStatus:
        """Describe a job; raise NOT_FOUND for an unknown id."""

    def list(self) -> builtins.list[JobStatus]:
        """Every job the backend still knows, newest first."""

    def logs(self, job_id: str) -> str:
        """The job's stdout and stderr so far (all tasks)."""

    def follow_logs(self, job_id: str) -> Iterator[str]:
        """Yield log text as it is written, ending when the job has ended."""

    def cancel(self, job_id: str) -> None:
        """Cancel a job; cancelling an ended or cancelled job is not an error."""

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a native exception, or return ``None`` if it is not this driver's."""

    def native(self) -> object | None:
        """The vendor client behind this driver."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class SupportsDelete(Protocol):
    """A backend that can forget ended jobs (capability ``delete``)."""

    def delete(self, job_id: str) -> None:
        """Remove an ended job with its logs and work directories.

        Raise NOT_FOUND for an unknown id and FAILED_PRECONDITION for a job that has not
        ended.
        """


@runtime_checkable
class SupportsTaskLogs(Protocol):
    """A backend that can read one task's log on its own (capability ``task_logs``).

    The portable queue has checked that ``task`` is one of the job's task indexes.
    """

    def task_logs(self, job_id: str, task: int) -> str:
        """Task ``task``'s stdout and stderr so far, without the ``[task N] `` prefixes."""

    def follow_task_logs(self, job_id: str, task: int) -> Iterator[str]:
        """Yield task ``task``'s log text as it is written, ending when the job has ended."""

"""The portable :class:`JobQueue` and the :class:`Job` handle users hold."""

from __future__ import annotations

import builtins
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

from portacloud.errors import (
    InvalidArgumentError,
)
from portacloud.handle import DriverHandle, check_timeout
from portacloud.jobs.driver import JobDriver, SupportsDelete, SupportsTaskLogs
from portacloud.jobs.models import JobCapabilities, JobSpec, JobState, JobStatus
from portacloud.jobs.workdir import absolute_workdir, check_workdir
from portacloud.residency import RegionCache, RegionPolicy
from portacloud.retry import RetryPolicy
from portacloud.validation import validated
from portacloud.waiting import poll_until

if TYPE_CHECKING:
    from portacloud.costs.job_costs import JobCosts
    from portacloud.costs.ledger import Ledger
    from portacloud.costs.models import CostPolicy
    from portacloud.costs.pricing import Projection

__all__ = ["Job", "JobQueue", "parse_spec"]


OUTPUT_ENV = "PORTACLOUD_OUTPUT_URI"


def _bucket_region(url: str, retry: RetryPolicy) -> str | None:
    """The region the provider reports for the bucket of a storage URL."""
    from portacloud.registry import default_registry
    from portacloud.storage.bucket import Bucket

    driver, prefix = default_registry().bucket_driver(url, retry=retry, options={})
    with Bucket(driver, url=url, prefix=prefix, retry=retry) as bucket:
        return bucket.region()


def parse_spec(spec: JobSpec | Mapping[str, Any]) -> JobSpec:
    """Accept a :class:`JobSpec` or a mapping (from YAML or JSON) and validate it."""
    return validated(JobSpec, spec, what="job spec")


class Job:
    """A submitted job. Its methods are shortcuts for the queue's.

    Attributes:
        id: The queue's id for the job.
        name: The spec's name.
        output_uri: The storage URL the job writes its artifacts to.
    """

    def __init__(self, queue: JobQueue, *, job_id: str, name: str, output_uri: str | None) -> None:
        self._queue = queue
        self.id = job_id
        self.name = name
        self.output_uri = output_uri

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, name={self.name!r})"

    def status(self) -> JobStatus:
        """The job's current status."""
        return self._queue.status(self.id)

    def wait(self, *, timeout: float) -> JobStatus:
        """Block until the job ends or ``timeout`` seconds pass (DEADLINE_EXCEEDED)."""
        return self._queue.wait(self.id, timeout=timeout)

    def logs(self, *, task: int | None = None) -> str:
        """The job's output so far (``task``: only that task's)."""
        return self._queue.logs(self.id, task=task)

    def cancel(self) -> None:
        """Cancel the job (idempotent)."""
        self._queue.cancel(self.id)


class JobQueue(DriverHandle[JobDriver]):
    """A place to run jobs: ``local://``, ``ray://host:port``, ``slurm://partition``...

    Open one with :func:`portacloud.open_jobs`.

    Retries (docs/decisions/0007-jobs-and-compute-retries.md): reads (``status``, ``list``,
    ``logs``, each poll of ``wait``) and ``cancel``, which is idempotent, are retried under
    the queue's :class:`~portacloud.retry.RetryPolicy`; ``submit`` and ``delete`` never are,
    because a try whose answer was lost may have been applied.
    """

    def __init__(
        self,
        driver: JobDriver,
        *,
        url: str,
        outputs: str,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        residency: RegionPolicy | None = None,
    ) -> None:
        super().__init__(driver, url=url, options=options)
        # The job's URL keeps the options (an S3-compatible store's endpoint_url): without
        # them a job's writes would go to the vendor's default endpoint instead.
        base, _, query = outputs.partition("?")
        self._outputs = base.rstrip("/")
        self._outputs_query = f"?{query}" if query else ""
        self._outputs_url = outputs
        self._retry = retry or RetryPolicy()
        self._outputs_region = RegionCache(residency)
        self._costs: JobCosts | None = None

    def use_costs(self, policy: CostPolicy, *, ledger: Ledger | None = None) -> JobQueue:
        """Price, record and budget what this queue runs under ``policy``; returns the queue.

        From then on ``submit`` refuses a job whose projection is over the budget
        (RESOURCE_EXHAUSTED, before anything is submitted), records it in the cost ledger,
        and every status read prices it and cancels it once it runs past the budget
        (reason BUDGET_EXCEEDED; docs/decisions/0010-budgets.md).
        """
        from portacloud.costs.job_costs import JobCosts

        self._costs = JobCosts(policy, target=self._url, ledger=ledger)
        return self

    def estimate(self, spec: JobSpec | Mapping[str, Any]) -> Projection:
        """What ``spec`` may cost on this queue: price x timeout x attempts, with the rates of
        the queue's cost policy (none: zero)."""
        from portacloud.costs.job_costs import JobCosts
        from portacloud.costs.models import CostPolicy

        costs = self._costs or JobCosts(CostPolicy(profile="-"), target=self._url)
        return costs.estimate(parse_spec(spec))

    def _reopen(self) -> JobDriver:
        from portacloud.registry import default_registry

        return default_registry().jobs_driver(self._url, retry=self._retry, options=self._options)

    @property
    def capabilities(self) -> JobCapabilities:
        """What the backend can do."""
        return self._driver.capabilities

    def _require(self, wanted: bool, capability: str, what: str) -> None:
        if wanted and not getattr(self.capabilities, capability):
            raise self._unsupported("submit", what, capability)

    def submit(
        self,
        spec: JobSpec | Mapping[str, Any],
        *,
        base_dir: str | os.PathLike[str] | None = None,
        workdir_limit_mb: float | None = None,
    ) -> Job:
        """Submit a job.

        Args:
            spec: A :class:`JobSpec`, or a mapping with its fields (as loaded from YAML).
            base_dir: What a relative ``workdir`` is relative to: the directory of the spec
                file it came from, say. Default: the current directory.
            workdir_limit_mb: The most MiB the ``workdir`` may ship (default 100; a backend
                may bound it lower: ``capabilities.max_workdir_mb``).

        Returns:
            The job handle; ``job.output_uri`` is where the job's ``PORTACLOUD_OUTPUT_URI``
            points.

        Raises:
            InvalidArgumentError: the spec is invalid, or its workdir is missing, not a
                directory, or bigger than the limit (its size, the limit and its biggest
                files are named).
            UnsupportedError: the spec needs a capability the backend lacks (named).
            ResourceExhaustedError: with a cost policy, the job's projected cost is over
                the budget (the message names projection, budget and what was spent).
            PermissionDeniedError: the queue or its outputs are outside the region policy it
                was opened under; nothing is submitted.
        """
        job = absolute_workdir(parse_spec(spec), base_dir)
        self._require(job.resources.gpu_count > 0, "gpus", "requesting GPUs")
        self._require(job.resources.gpu_type is not None, "gpu_types", "requesting a GPU model")
        self._require(job.array is not None, "arrays", "array jobs")
        self._require(job.retries > 0, "retries", "retries")
        self._require(job.timeout is not None, "timeouts", "timeouts")
        self._require(job.image is not None, "images", "container images")
        self._require(job.workdir is not None, "workdir", "shipping a workdir")
        check_workdir(job, self.capabilities, limit_mb=workdir_limit_mb)
        self._check_region(job.name)
        price = self._costs.admit(job) if self._costs is not None else None
        token = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
        output_uri = f"{self._outputs}/{job.name}-{token}/{self._outputs_query}"
        env = {**job.env, OUTPUT_ENV: output_uri}
        job_id = self._guarded(
            "submit", job.name, lambda: self._driver.submit(job, env=env, output_uri=output_uri)
        )
        if self._costs is not None and price is not None:
            self._costs.submitted(job_id, job, price)
        return Job(self, job_id=job_id, name=job.name, output_uri=output_uri)

    def _check_region(self, name: str) -> None:
        """Refuse a job outside the region policy: where it runs, and where its outputs go."""
        policy = self._outputs_region.policy
        if policy is None:
            return
        # No job backend here reports the region it runs in (local, Ray and Slurm run where
        # they are): the policy's unknown_region setting decides.
        policy.check(
            access="run",
            resource=f"job {name!r} on {self.url}",
            region=None,
            provider=self.provider,
            operation="submit",
        )
        region = self._outputs_region.region(lambda: _bucket_region(self._outputs_url, self._retry))
        policy.check(
            access="write",
            resource=f"the outputs of job {name!r} ({self._outputs})",
            region=region,
            operation="submit",
        )

    def get(self, job_id: str) -> Job:
        """A handle on an existing job; NOT_FOUND if the queue does not know it."""
        status = self.status(job_id)
        return Job(self, job_id=status.id, name=status.name, output_uri=status.output_uri)

    def status(self, job_id: str) -> JobStatus:
        """The job's state, reason, exit code, attempt and times."""
        self._check_id(job_id)
        return self._priced(self._read_status(job_id))

    def _read_status(self, job_id: str) -> JobStatus:
        return self._retried("status", job_id, lambda: self._driver.status(job_id))

    def _priced(self, status: JobStatus) -> JobStatus:
        """With a cost policy: the status with its price and cost, the budget enforced."""
        if self._costs is None:
            return status
        return self._costs.priced(status, cancel=self.cancel, reread=self._read_status)

    def list(
        self, *, state: JobState | str | None = None, name: str | None = None
    ) -> builtins.list[JobStatus]:
        """Jobs the queue knows, newest first, optionally filtered by state (in any case)
        and name."""
        wanted = None
        if state is not None:
            try:
                wanted = JobState(state.upper() if isinstance(state, str) else state)
            except ValueError:
                raise InvalidArgumentError(
                    f"unknown state {state!r}; one of {', '.join(s.value for s in JobState)}"
                ) from None
        jobs = self._retried("list", None, self._driver.list)
        return [
            self._priced(j)
            for j in jobs
            if (wanted is None or j.state == wanted) and (name is None or j.name == name)
        ]

    @overload
    def logs(
        self, job_id: str, *, task: int | None = None, follow: Literal[False] = False
    ) -> str: ...

    @overload
    def logs(
        self, job_id: str, *, task: int | None = None, follow: Literal[True]
    ) -> Iterator[str]: ...

    def logs(
        self, job_id: str, *, task: int | None = None, follow: bool = False
    ) -> str | Iterator[str]:
        """The job's stdout and stderr: a string, or with ``follow`` an iterator of new text
        that ends when the job does.

        Args:
            job_id: The job.
            task: Only this task's output, unprefixed (an array job's merged log prefixes
                each line with ``[task N] ``).
            follow: Yield new text until the job ends.

        Raises:
            InvalidArgumentError: ``task`` is not one of the job's task indexes.
            UnsupportedError: the backend cannot read one task's log (``task_logs``).
        """
        self._check_id(job_id)
        if task is not None:
            return self._task_logs(job_id, task, follow=follow)
        if follow:
            return self._follow(job_id, self._driver.follow_logs)
        return self._retried("logs", job_id, lambda: self._driver.logs(job_id))

    def _task_logs(self, job_id: str, task: int, *, follow: bool) -> str | Iterator[str]:
        driver = self._driver
        if not self.capabilities.task_logs or not isinstance(driver, SupportsTaskLogs):
            raise self._unsupported("logs", "reading one task's log", "task_logs")
        if isinstance(task, bool) or not isinstance(task, int):
            raise InvalidArgumentError(f"a task index must be an int, not {task!r}")
        count = len(self.status(job_id).tasks) or 1
        if not 0 <= task < count:
            raise InvalidArgumentError(
                f"job {job_id} has {count} task(s), indexes 0 to {count - 1}; there is no "
                f"task {task}",
                resource=job_id,
            )
        if follow:
            return self._follow(job_id, lambda j: driver.follow_task_logs(j, task))
        return self._retried("logs", job_id, lambda: driver.task_logs(job_id, task))

    def _follow(self, job_id: str, start: Callable[[str], Iterator[str]]) -> Iterator[str]:
        chunks = self._guarded("logs", job_id, lambda: start(job_id))
        while True:
            chunk = self._guarded("logs", job_id, lambda: next(chunks, None))
            if chunk is None:
                return
            yield chunk

    def cancel(self, job_id: str) -> None:
        """Cancel a job. Cancelling an ended or already cancelled job is not an error."""
        self._check_id(job_id)
        self._retried("cancel", job_id, lambda: self._driver.cancel(job_id))

    def delete(self, job_id: str) -> None:
        """Remove an ended job, with its logs and work directories (not its outputs).

        Raises:
            NotFoundError: the queue does not know the job.
            FailedPreconditionError: the job has not ended; cancel it first.
            UnsupportedError: the backend keeps its own history (capability ``delete``).
        """
        self._check_id(job_id)
        driver = self._driver
        if not self.capabilities.delete or not isinstance(driver, SupportsDelete):
            raise self._unsupported("delete", "removing jobs", "delete")
        self._guarded("delete", job_id, lambda: driver.delete(job_id))

    def prune(self) -> builtins.list[str]:
        """Remove every ended job (see :meth:`delete`) and return their ids."""
        if not self.capabilities.delete:
            raise self._unsupported("prune", "removing jobs", "delete")
        removed = []
        for job in self.list():
            if job.state.terminal:
                self.delete(job.id)
                removed.append(job.id)
        return removed

    def wait(self, job_id: str, *, timeout: float) -> JobStatus:
        """Poll until the job ends; DEADLINE_EXCEEDED after ``timeout`` seconds.

        Raises:
            InvalidArgumentError: ``timeout`` is zero, negative or NaN, or the id is empty.
            DeadlineExceededError: the job is still running after ``timeout`` seconds.
        """
        timeout = check_timeout(timeout, operation="wait")
        self._check_id(job_id)

        return poll_until(
            lambda: self.status(job_id),
            lambda status: status.state.terminal,
            timeout=timeout,
            max_delay=1.0,
            state=lambda status: status.state.value,
            provider=self.provider,
            resource=job_id,
        )

    @staticmethod
    def _check_id(job_id: object) -> None:
        if not isinstance(job_id, str) or not job_id:
            raise InvalidArgumentError(f"a job id must be a non-empty str, not {job_id!r}")

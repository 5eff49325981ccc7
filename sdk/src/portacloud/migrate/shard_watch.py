"""Watching the shards of a sharded migration: one view of progress over every task."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from portacloud.errors import PortaCloudError
from portacloud.jobs.models import JobState
from portacloud.jobs.queue import JobQueue
from portacloud.migrate.shard_state import ShardProgress, ShardState
from portacloud.migrate.shards import ShardPlan

__all__ = ["ShardsProgress", "read_progress", "watch_job"]


class ShardsProgress(BaseModel):
    """Progress over every shard, as the coordinator shows it.

    Attributes:
        job_id: The array job, when one is known.
        job_state: Its state (``RUNNING``, ``SUCCEEDED``...), when it could be read.
        objects: Objects done over all shards (copied or found identical).
        objects_total: Objects to do.
        bytes: Bytes done.
        bytes_total: Bytes to do.
        rate_bps: Bytes per second since the watch began.
        eta_s: Seconds left at that rate, when it can be told.
        shards: Each shard's last report.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str | None = None
    job_state: str | None = None
    objects: int = 0
    objects_total: int = 0
    bytes: int = 0
    bytes_total: int = 0
    rate_bps: float = 0.0
    eta_s: float | None = None
    shards: tuple[ShardProgress, ...] = ()

    @property
    def finished(self) -> bool:
        """The job has ended (or none runs)."""
        return self.job_state is None or JobState(self.job_state).terminal


def read_progress(store: ShardState, plan: ShardPlan) -> tuple[ShardProgress, ...]:
    """Every shard's last report (``pending`` for a shard that never started)."""
    found: list[ShardProgress] = []
    for spec in plan.shards:
        got = store.read(store.shard_key(spec.index, "progress.json"), ShardProgress)
        found.append(got or ShardProgress(index=spec.index))
    return tuple(found)


def _job_state(queue: JobQueue | None, job_id: str | None) -> str | None:
    if queue is None or job_id is None:
        return None
    try:
        return queue.status(job_id).state.value
    except PortaCloudError:
        # The queue may be unreachable for a moment; the shards' own reports go on.
        return JobState.UNKNOWN.value


def _aggregate(
    plan: ShardPlan,
    shards: tuple[ShardProgress, ...],
    *,
    rate: float,
    job_id: str | None,
    job_state: str | None,
) -> ShardsProgress:
    objects_total = bytes_total = objects = size = 0
    for spec, report in zip(plan.shards, shards, strict=True):
        objects_total += report.objects_total if report.objects_total is not None else spec.objects
        bytes_total += report.bytes_total if report.bytes_total is not None else spec.bytes
        objects += report.objects
        size += report.bytes
    left = max(0, bytes_total - size)
    eta = left / rate if rate > 0 else None
    return ShardsProgress(
        job_id=job_id,
        job_state=job_state,
        objects=objects,
        objects_total=objects_total,
        bytes=size,
        bytes_total=bytes_total,
        rate_bps=rate,
        eta_s=eta,
        shards=shards,
    )


def watch_job(
    store: ShardState,
    plan: ShardPlan,
    *,
    queue: JobQueue | None,
    job_id: str | None,
    once: bool = False,
    sink: Callable[[ShardsProgress], None] | None = None,
    poll_s: float = 1.0,
) -> ShardsProgress:
    """Report the shards' progress until the job ends (or once, with ``once``).

    Returns:
        The last report, read after the job ended.
    """
    started = time.monotonic()
    first: int | None = None
    while True:
        state = _job_state(queue, job_id)
        shards = read_progress(store, plan)
        done = sum(s.bytes for s in shards)
        first = done if first is None else first
        elapsed = time.monotonic() - started
        rate = (done - first) / elapsed if elapsed > 0 else 0.0
        report = _aggregate(plan, shards, rate=rate, job_id=job_id, job_state=state)
        if sink is not None:
            sink(report)
        if once or report.finished:
            return report
        time.sleep(poll_s)

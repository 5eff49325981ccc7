"""Cancellation, timeouts, retries and arrays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import Budget, CostPolicy, Rates
from portacloud_conformance.jobs.support import WAIT, wait_until
from portacloud_conformance.support import require


def test_cancel_running_job(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="cancel-running", command="echo started; sleep 300"))
    wait_until(queue, job.id, JobState.RUNNING)
    queue.cancel(job.id)
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.CANCELLED
    assert status.reason is JobReason.USER_CANCELLED
    queue.cancel(job.id)  # twice is fine
    assert queue.status(job.id).state is JobState.CANCELLED


def test_cancel_pending_job(queue: portacloud.JobQueue) -> None:
    require(queue, "cancel_pending")
    require(queue, "max_gpus_per_job")
    total = queue.capabilities.max_gpus_per_job
    blocker = queue.submit(
        JobSpec(name="blocker", command="sleep 300", resources=Resources(gpus=total))
    )
    try:
        wait_until(queue, blocker.id, JobState.RUNNING)
        waiting = queue.submit(JobSpec(name="waiting", command="true", resources=Resources(gpus=1)))
        assert queue.status(waiting.id).state in (JobState.PENDING, JobState.STARTING)
        queue.cancel(waiting.id)
        status = queue.wait(waiting.id, timeout=WAIT)
        assert status.state is JobState.CANCELLED
        queue.cancel(waiting.id)
    finally:
        queue.cancel(blocker.id)
    assert queue.wait(blocker.id, timeout=WAIT).state is JobState.CANCELLED


def test_cancel_finished_job_is_a_no_op(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="done", command="true"))
    queue.wait(job.id, timeout=WAIT)
    queue.cancel(job.id)
    assert queue.status(job.id).state is JobState.SUCCEEDED


def test_timeout_fails_with_reason_timeout(queue: portacloud.JobQueue) -> None:
    require(queue, "timeouts")
    job = queue.submit(JobSpec(name="slow", command="sleep 300", timeout=2))
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.reason is JobReason.TIMEOUT


def test_retries_show_in_the_attempt_count(queue: portacloud.JobQueue) -> None:
    require(queue, "retries")
    job = queue.submit(JobSpec(name="retried", command="echo attempt; exit 3", retries=2))
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.exit_code == 3
    assert status.attempt == 3
    assert queue.logs(job.id).count("attempt") == 3


def test_array_tasks_get_distinct_indices(queue: portacloud.JobQueue) -> None:
    require(queue, "arrays")
    job = queue.submit(
        JobSpec(name="array", command='echo "index=$PORTACLOUD_TASK_INDEX"', array=4)
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.SUCCEEDED
    indices = sorted(int(i) for i in re.findall(r"index=(\d+)", queue.logs(job.id)))
    assert indices == [0, 1, 2, 3]
    if status.tasks:
        assert sorted(t.index for t in status.tasks) == [0, 1, 2, 3]


def test_failed_array_task_fails_the_job(queue: portacloud.JobQueue) -> None:
    require(queue, "arrays")
    job = queue.submit(
        JobSpec(name="array-fail", command='[ "$PORTACLOUD_TASK_INDEX" != 1 ] || exit 5', array=3)
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.exit_code == 5


def test_delete_removes_an_ended_job_and_refuses_a_running_one(
    queue: portacloud.JobQueue,
) -> None:
    require(queue, "delete")
    done = queue.submit(JobSpec(name="deleted", command="echo bye"))
    queue.wait(done.id, timeout=WAIT)
    running = queue.submit(JobSpec(name="kept", command="sleep 300"))
    try:
        wait_until(queue, running.id, JobState.RUNNING)
        with pytest.raises(portacloud.FailedPreconditionError):
            queue.delete(running.id)
        queue.delete(done.id)
        with pytest.raises(portacloud.NotFoundError):
            queue.status(done.id)
        with pytest.raises(portacloud.NotFoundError):
            queue.delete(done.id)
        assert done.id not in [j.id for j in queue.list()]
    finally:
        queue.cancel(running.id)
    queue.wait(running.id, timeout=WAIT)
    queue.delete(running.id)


def test_wait_refuses_a_negative_timeout(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="negative-wait", command="true"))
    with pytest.raises(portacloud.InvalidArgumentError):
        queue.wait(job.id, timeout=-1)
    queue.wait(job.id, timeout=WAIT)


def test_run_past_its_budget_is_cancelled_as_budget_exceeded(
    queue: portacloud.JobQueue, tmp_path: Path
) -> None:
    """A job that runs past the per-run budget of its cost policy is cancelled by the status
    reads, whatever the backend, and says BUDGET_EXCEEDED (one dollar a CPU-second here)."""
    policy = CostPolicy(
        profile="conformance", rates=Rates(cpu_hour_usd=3600.0), budget=Budget(per_run_usd=1.0)
    )
    with portacloud.open_jobs(queue.url) as priced:
        priced.use_costs(policy, ledger=Ledger(tmp_path / "ledger.sqlite3"))
        job = priced.submit(JobSpec(name="over-budget", command="echo started; sleep 300"))
        status = priced.wait(job.id, timeout=WAIT)
        assert status.state is JobState.CANCELLED
        assert status.reason is JobReason.BUDGET_EXCEEDED
        assert status.cost is not None
        assert status.cost > 1.0
        assert priced.status(job.id).reason is JobReason.BUDGET_EXCEEDED

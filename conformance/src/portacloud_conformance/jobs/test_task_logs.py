"""One task's log on its own: ``logs(job_id, task=N)`` beside the merged, prefixed log."""

from __future__ import annotations

import pytest

import portacloud
from portacloud import JobSpec, JobState
from portacloud_conformance.jobs.support import WAIT
from portacloud_conformance.support import require, require_missing


def _ended(queue: portacloud.JobQueue, spec: JobSpec) -> str:
    job = queue.submit(spec)
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED, queue.logs(job.id)
    return job.id


def test_each_task_of_an_array_has_its_own_log(queue: portacloud.JobQueue) -> None:
    require(queue, "task_logs")
    require(queue, "arrays")
    command = 'echo "out $PORTACLOUD_TASK_INDEX"; echo "err $PORTACLOUD_TASK_INDEX" >&2'
    job_id = _ended(queue, JobSpec(name="tlogs", command=command, array=3))
    for i in range(3):
        assert sorted(queue.logs(job_id, task=i).splitlines()) == [f"err {i}", f"out {i}"]
    merged = queue.logs(job_id).splitlines()
    assert sorted(merged) == sorted(f"[task {i}] {s} {i}" for i in range(3) for s in ("out", "err"))


def test_a_single_task_log_is_the_whole_log(queue: portacloud.JobQueue) -> None:
    require(queue, "task_logs")
    job_id = _ended(queue, JobSpec(name="tlog1", command="echo one; printf two"))
    assert queue.logs(job_id, task=0) == queue.logs(job_id)
    assert "".join(queue.logs(job_id, task=0, follow=True)) == queue.logs(job_id)


@pytest.mark.parametrize("task", [2, -1])
def test_a_task_out_of_range_is_refused(queue: portacloud.JobQueue, task: int) -> None:
    require(queue, "task_logs")
    require(queue, "arrays")
    job_id = _ended(queue, JobSpec(name="tlogs-range", command="true", array=2))
    with pytest.raises(portacloud.InvalidArgumentError, match=f"no task {task}"):
        queue.logs(job_id, task=task)


def test_a_backend_without_task_logs_refuses_them(queue: portacloud.JobQueue) -> None:
    require_missing(queue, "task_logs")
    job_id = _ended(queue, JobSpec(name="tlogs-unsup", command="true"))
    with pytest.raises(portacloud.UnsupportedError, match="task_logs"):
        queue.logs(job_id, task=0)

"""GPU requests: exactly the GPUs asked for, and impossible requests fail fast."""

from __future__ import annotations

import re
import time

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources
from portacloud_conformance.jobs.support import WAIT
from portacloud_conformance.support import require

_VISIBLE = re.compile(r"visible=\[([^\]]*)\]")


@pytest.mark.parametrize("count", [1, 2])
def test_gpu_request_sees_exactly_those_gpus(queue: portacloud.JobQueue, count: int) -> None:
    require(queue, "gpus")
    require(queue, "max_gpus_per_job", at_least=count)
    job = queue.submit(
        JobSpec(
            name=f"gpu{count}",
            command='echo "visible=[$CUDA_VISIBLE_DEVICES]"',
            resources=Resources(gpus=count),
        )
    )
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    match = _VISIBLE.search(queue.logs(job.id))
    assert match is not None
    devices = [d for d in match.group(1).split(",") if d.strip()]
    assert len(devices) == count
    assert len(set(devices)) == count


def test_concurrent_gpu_jobs_get_different_gpus(queue: portacloud.JobQueue) -> None:
    require(queue, "gpus")
    require(queue, "max_gpus_per_job", at_least=2)
    command = 'echo "visible=[$CUDA_VISIBLE_DEVICES]"; sleep 3'
    jobs = [
        queue.submit(JobSpec(name=f"share{i}", command=command, resources=Resources(gpus=1)))
        for i in range(2)
    ]
    seen = []
    for job in jobs:
        assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
        match = _VISIBLE.search(queue.logs(job.id))
        assert match is not None
        seen.append(match.group(1))
    assert seen[0] != seen[1], f"two concurrent 1-GPU jobs both saw {seen[0]}"


def test_impossible_request_fails_fast(queue: portacloud.JobQueue) -> None:
    too_many = queue.capabilities.max_gpus_per_job + 1
    started = time.monotonic()
    try:
        job = queue.submit(
            JobSpec(name="too-big", command="true", resources=Resources(gpus=too_many))
        )
    except portacloud.PortaCloudError as exc:
        assert exc.code in (
            portacloud.ErrorCode.INVALID_ARGUMENT,
            portacloud.ErrorCode.RESOURCE_EXHAUSTED,
            portacloud.ErrorCode.UNSUPPORTED,
            portacloud.ErrorCode.FAILED_PRECONDITION,
        )
        return
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.reason in (JobReason.NO_CAPACITY, JobReason.INVALID_SPEC)
    assert status.message
    assert time.monotonic() - started < WAIT

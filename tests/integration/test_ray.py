"""The ray:// job backend against a real Ray head (scripts/servers/ray.sh: 2 CPUs, 2 fake GPUs).

Ray's side is checked with Ray's own client, behind the driver's back, so the tests do not
trust the code under test to describe itself.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources

pytest.importorskip("portacloud_ray")
from ray.job_submission import JobStatus, JobSubmissionClient

pytestmark = pytest.mark.integration

WAIT = 120.0
_VISIBLE = re.compile(r"visible=\[([^\]]*)\]")


@pytest.fixture(scope="module")
def address() -> str:
    """The head's dashboard address, or fail (CI) / skip (elsewhere) when it is not running."""
    value = os.environ.get("PORTACLOUD_TEST_RAY_ADDRESS")
    if value:
        return value
    if os.environ.get("CI") == "true":
        pytest.fail(
            "ray not running: scripts/services.sh start (PORTACLOUD_TEST_RAY_ADDRESS unset)"
        )
    pytest.skip("ray not running: scripts/services.sh start")


@pytest.fixture(scope="module")
def ray_client(address: str) -> JobSubmissionClient:
    return JobSubmissionClient(address)


@pytest.fixture
def url(address: str) -> str:
    return f"ray://{urlsplit(address).netloc}"


@pytest.fixture
def queue(url: str) -> Iterator[portacloud.JobQueue]:
    with portacloud.open_jobs(url) as q:
        yield q


def wait_for(client: JobSubmissionClient, job_id: str, *statuses: JobStatus) -> JobStatus:
    """Poll Ray itself until the job is in one of ``statuses``."""
    deadline = time.monotonic() + WAIT
    while True:
        status = client.get_job_status(job_id)
        if status in statuses:
            return status
        assert time.monotonic() < deadline, f"Ray still says {status} for {job_id}"
        time.sleep(0.2)


def devices(logs: str) -> list[str]:
    match = _VISIBLE.search(logs)
    assert match is not None, logs
    return [d for d in match.group(1).split(",") if d.strip()]


def test_open_reads_the_clusters_gpus(queue: portacloud.JobQueue) -> None:
    assert queue.provider == "ray"
    assert queue.capabilities.max_gpus_per_job == 2


@pytest.mark.parametrize("count", [0, 1, 2])
def test_a_fake_gpu_job_sees_exactly_its_gpus(queue: portacloud.JobQueue, count: int) -> None:
    job = queue.submit(
        JobSpec(
            name=f"gpus{count}",
            command='echo "visible=[$CUDA_VISIBLE_DEVICES]"',
            resources=Resources(gpus=count),
        )
    )
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    seen = devices(queue.logs(job.id))
    assert len(seen) == count
    assert len(set(seen)) == count
    assert set(seen) <= {"0", "1"}


def test_array_tasks_each_see_the_jobs_gpu(queue: portacloud.JobQueue) -> None:
    job = queue.submit(
        JobSpec(
            name="gpu-array",
            command='echo "task=$PORTACLOUD_TASK_INDEX visible=[$CUDA_VISIBLE_DEVICES]"',
            resources=Resources(gpus=1),
            array=3,
        )
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.SUCCEEDED
    assert [t.state for t in status.tasks] == [JobState.SUCCEEDED] * 3
    lines = [line for line in queue.logs(job.id).splitlines() if "visible=" in line]
    assert [line.split("]", 1)[0] for line in lines] == ["[task 0", "[task 1", "[task 2"]
    assert all(len(devices(line)) == 1 for line in lines)


def test_a_job_stopped_behind_the_drivers_back_is_cancelled(
    queue: portacloud.JobQueue, ray_client: JobSubmissionClient
) -> None:
    job = queue.submit(JobSpec(name="stopped", command="echo up; sleep 300"))
    deadline = time.monotonic() + WAIT
    while queue.status(job.id).state is not JobState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert ray_client.stop_job(job.id)
    wait_for(ray_client, job.id, JobStatus.STOPPED)
    status = queue.status(job.id)
    assert (status.state, status.reason) == (JobState.CANCELLED, JobReason.USER_CANCELLED)
    assert status.ended_at is not None
    assert "up" in queue.logs(job.id)


def test_cancelling_a_job_ray_has_not_placed_never_runs_it(
    queue: portacloud.JobQueue, ray_client: JobSubmissionClient
) -> None:
    blocker = queue.submit(JobSpec(name="hog", command="sleep 300", resources=Resources(gpus=2)))
    try:
        wait_for(ray_client, blocker.id, JobStatus.RUNNING)
        waiting = queue.submit(
            JobSpec(name="queued", command="echo RAN-ANYWAY", resources=Resources(gpus=1))
        )
        assert ray_client.get_job_status(waiting.id) is JobStatus.PENDING
        queue.cancel(waiting.id)
        # Ray still holds it PENDING; portacloud reports the cancel at once.
        assert ray_client.get_job_status(waiting.id) is JobStatus.PENDING
        status = queue.status(waiting.id)
        assert (status.state, status.reason) == (JobState.CANCELLED, JobReason.USER_CANCELLED)
        queue.cancel(waiting.id)
    finally:
        queue.cancel(blocker.id)
    wait_for(ray_client, blocker.id, JobStatus.STOPPED)
    # Once the GPUs are free Ray places it and stops it before the command starts.
    ended = wait_for(ray_client, waiting.id, JobStatus.STOPPED, JobStatus.FAILED)
    raw = ray_client.get_job_logs(waiting.id)
    assert "RAN-ANYWAY" not in raw.splitlines(), (ended, raw)
    assert queue.status(waiting.id).state is JobState.CANCELLED


def test_an_impossible_request_fails_fast_and_submits_nothing(
    queue: portacloud.JobQueue, ray_client: JobSubmissionClient
) -> None:
    before = {j.submission_id for j in ray_client.list_jobs()}
    for resources in (Resources(gpus=3), Resources(cpus=64), Resources(gpus=1, memory_gb=4096)):
        started = time.monotonic()
        with pytest.raises(portacloud.ResourceExhaustedError) as caught:
            queue.submit(JobSpec(name="too-big", command="true", resources=resources))
        assert time.monotonic() - started < 10
        assert not caught.value.retryable
        assert "node" in caught.value.message
    assert {j.submission_id for j in ray_client.list_jobs()} == before


def test_timeout_and_retries_are_enforced(queue: portacloud.JobQueue) -> None:
    job = queue.submit(
        JobSpec(name="slow-retry", command="echo try; sleep 300", timeout=1, retries=1)
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert (status.state, status.reason, status.attempt) == (
        JobState.FAILED,
        JobReason.TIMEOUT,
        2,
    )
    assert queue.logs(job.id) == "try\ntry\n"


def test_markers_are_in_rays_log_but_not_in_portacloud_logs(
    queue: portacloud.JobQueue, ray_client: JobSubmissionClient
) -> None:
    job = queue.submit(JobSpec(name="plain", command="printf 'exactly this'"))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    assert "[portacloud-ray " in ray_client.get_job_logs(job.id)
    assert queue.logs(job.id) == "exactly this"
    assert "".join(queue.logs(job.id, follow=True)) == "exactly this"


def test_a_cluster_without_the_interpreter_is_an_infrastructure_error(url: str) -> None:
    with portacloud.open_jobs(url, python="/nonexistent/python") as queue:
        job = queue.submit(JobSpec(name="no-python", command="true"))
        status = queue.wait(job.id, timeout=WAIT)
        assert (status.state, status.reason) == (JobState.FAILED, JobReason.INFRA_ERROR)
        assert "/nonexistent/python" in queue.logs(job.id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_no_ray_exception_escapes(queue: portacloud.JobQueue, url: str) -> None:
    for call in (
        lambda: queue.status("no-such-job-0000"),
        lambda: queue.logs("no-such-job-0000"),
        lambda: queue.cancel("no-such-job-0000"),
        lambda: list(queue.logs("no-such-job-0000", follow=True)),
    ):
        with pytest.raises(portacloud.NotFoundError) as caught:
            call()
        assert caught.value.provider == "ray"
        assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(portacloud.UnavailableError) as down:
        portacloud.open_jobs(f"ray://127.0.0.1:{free_port()}")
    assert down.value.retryable
    with pytest.raises(portacloud.InvalidArgumentError):
        portacloud.open_jobs(f"{url}?colour=blue")


def test_a_dashboard_that_never_answers_fails_within_the_request_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
        started = time.monotonic()
        with pytest.raises(portacloud.DeadlineExceededError) as caught:
            portacloud.open_jobs(f"ray://127.0.0.1:{server.getsockname()[1]}", request_timeout="1")
        assert time.monotonic() - started < 10
        assert caught.value.retryable
        for conn in accepted:
            conn.close()

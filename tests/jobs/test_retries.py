"""Who retries what for jobs and compute (docs/decisions/0007-jobs-and-compute-retries.md).

Fake drivers count the calls each portable operation makes: reads and idempotent calls are
retried under the handle's policy, submits and launches are not; the Ray driver retries a
submission only under its idempotency key; Slurm says when a lost sbatch answer leaves the
outcome unknown. No backend is needed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from portacloud import JobSpec, JobState, JobStatus
from portacloud.compute.compute import Compute
from portacloud.compute.driver import LaunchRequest
from portacloud.compute.models import ComputeCapabilities, Instance, InstanceState
from portacloud.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    PortaCloudError,
    UnavailableError,
)
from portacloud.jobs.models import JobCapabilities
from portacloud.jobs.queue import JobQueue
from portacloud.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, initial_delay=0, max_delay=0)
ONCE = RetryPolicy(attempts=1)


class FlakyJobs:
    """A job driver whose every call fails ``failures`` times with UNAVAILABLE first."""

    provider = "flaky"
    capabilities = JobCapabilities()

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= self.failures:
            raise UnavailableError(f"{name} lost")

    def submit(self, spec: JobSpec, *, env: Mapping[str, str], output_uri: str) -> str:
        self._call("submit")
        return "j1"

    def status(self, job_id: str) -> JobStatus:
        self._call("status")
        return JobStatus(id=job_id, name="n", state=JobState.SUCCEEDED)

    def list(self) -> list[JobStatus]:
        self._call("list")
        return []

    def logs(self, job_id: str) -> str:
        self._call("logs")
        return "out"

    def follow_logs(self, job_id: str) -> Iterator[str]:
        yield "out"

    def cancel(self, job_id: str) -> None:
        self._call("cancel")

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return None

    def native(self) -> object | None:
        return None

    def close(self) -> None:
        pass


def _queue(driver: FlakyJobs, retry: RetryPolicy) -> JobQueue:
    return JobQueue(driver, url="flaky://", outputs="file:///tmp/out", retry=retry)


def test_reads_and_cancel_are_retried_under_the_queues_policy() -> None:
    driver = FlakyJobs(failures=2)
    queue = _queue(driver, FAST)
    assert queue.status("j1").state is JobState.SUCCEEDED
    assert queue.list() == []
    assert queue.logs("j1") == "out"
    queue.cancel("j1")
    assert driver.calls == {"status": 3, "list": 3, "logs": 3, "cancel": 3}


def test_one_attempt_means_one_call_and_a_final_error() -> None:
    driver = FlakyJobs(failures=1)
    with pytest.raises(UnavailableError) as caught:
        _queue(driver, ONCE).status("j1")
    assert driver.calls == {"status": 1}
    assert not caught.value.retryable
    assert caught.value.operation == "status"


def test_a_submit_is_never_retried_by_the_queue() -> None:
    driver = FlakyJobs(failures=1)
    with pytest.raises(UnavailableError):
        _queue(driver, FAST).submit(JobSpec(name="s", command="true"))
    assert driver.calls == {"submit": 1}


class FlakyCompute:
    """A compute driver whose every call fails ``failures`` times with UNAVAILABLE first."""

    provider = "flaky"
    capabilities = ComputeCapabilities()
    region = "here"

    def __init__(self, failures: int, state: InstanceState = InstanceState.RUNNING) -> None:
        self.failures = failures
        self.state = state
        self.calls: dict[str, int] = {}

    def _call(self, name: str) -> Instance:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= self.failures:
            raise UnavailableError(f"{name} lost")
        return Instance(id="i-1", state=self.state, billing=True, provider=self.provider)

    def create(self, request: LaunchRequest) -> Instance:
        return self._call("create")

    def get(self, instance_id: str) -> Instance:
        return self._call("get")

    def list(self, tags: Mapping[str, str]) -> list[Instance]:
        return [self._call("list")]

    def start(self, instance_id: str) -> Instance:
        return self._call("start")

    def stop(self, instance_id: str) -> Instance:
        return self._call("stop")

    def terminate(self, instance_id: str) -> Instance:
        return self._call("terminate")

    def resolve_image(self, image: str) -> str:
        self._call("resolve_image")
        return image

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return None

    def native(self) -> object | None:
        return None

    def close(self) -> None:
        pass


def test_compute_retries_describes_and_terminate_but_not_launches() -> None:
    driver = FlakyCompute(failures=1)
    handle = Compute(driver, url="flaky://", retry=FAST)
    handle.get("i-1")
    handle.list()
    handle.terminate("i-1")
    with pytest.raises(UnavailableError):
        handle.create({"name": "x", "instance_type": "t"})
    with pytest.raises(UnavailableError):
        handle.stop("i-1")
    assert driver.calls == {
        "get": 2,
        "list": 2,
        "terminate": 2,
        "resolve_image": 2,
        "create": 1,
        "stop": 1,
    }


def test_compute_wait_names_the_state_it_waited_for() -> None:
    handle = Compute(FlakyCompute(failures=0, state=InstanceState.PENDING), url="flaky://")
    with pytest.raises(DeadlineExceededError, match=r"still PENDING after 0\.2 s \(waiting"):
        handle.wait("i-1", "RUNNING", timeout=0.2)
    gone = Compute(FlakyCompute(failures=0, state=InstanceState.TERMINATED), url="flaky://")
    with pytest.raises(FailedPreconditionError, match="never be RUNNING"):
        gone.wait("i-1", "RUNNING", timeout=5)


# ----------------------------------------------------------------------------- Ray submit


def _dashboard_error(status: int, body: str) -> RuntimeError:
    return RuntimeError(f"Request failed with status code {status}: {body}.")


class _RayClient:
    """Ray's JobSubmissionClient as far as a submit goes: the first answer is lost."""

    def __init__(self, stored_nonce: str | None) -> None:
        self.stored_nonce = stored_nonce
        self.submits = 0

    def submit_job(self, *, submission_id: str, **request: Any) -> str:
        self.submits += 1
        if self.submits == 1:
            raise ConnectionError("connection reset by peer")
        raise _dashboard_error(500, f"ValueError: submission_id {submission_id} already exists")

    def get_job_info(self, job_id: str) -> SimpleNamespace:
        return SimpleNamespace(metadata={"portacloud.nonce": self.stored_nonce})


def _ray_driver(client: _RayClient) -> Any:
    jobs = pytest.importorskip("portacloud_ray.jobs")
    driver = object.__new__(jobs.RayJobDriver)
    driver._client = client
    driver._retry = FAST
    return driver


def test_ray_resubmits_under_its_id_and_recognises_its_own_job() -> None:
    client = _RayClient(stored_nonce="n1")
    _ray_driver(client)._submit_job("job-1", "n1", entrypoint="true")
    assert client.submits == 2


def test_ray_reports_an_id_taken_by_another_submission() -> None:
    client = _RayClient(stored_nonce="someone-else")
    with pytest.raises(AlreadyExistsError):
        _ray_driver(client)._submit_job("job-1", "n1", entrypoint="true")
    assert client.submits == 2


def test_ray_submits_once_when_retries_are_off() -> None:
    client = _RayClient(stored_nonce="n1")
    driver = _ray_driver(client)
    driver._retry = ONCE
    with pytest.raises(UnavailableError) as caught:
        driver._submit_job("job-1", "n1", entrypoint="true")
    assert client.submits == 1
    assert not caught.value.retryable


# ----------------------------------------------------------------------------- Slurm sbatch


class _Sbatch:
    def __init__(self, failure: BaseException) -> None:
        self.failure = failure
        self.calls = 0

    def run(self, command: str, *args: str) -> str:
        self.calls += 1
        raise self.failure


def _slurm_driver(commands: _Sbatch, tmp_path: Path) -> Any:
    jobs = pytest.importorskip("portacloud_slurm.jobs")
    from portacloud_slurm.partition import ClusterInfo, Partition

    info = ClusterInfo(cluster="c", partition=Partition(name="debug"), accounting=None)
    return jobs.SlurmJobDriver(commands=commands, info=info, state_dir=tmp_path)


@pytest.mark.parametrize(
    "failure",
    [
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
        "sbatch: error: Batch job submission failed: Zero Bytes were transmitted or received",
    ],
)
def test_a_lost_sbatch_answer_says_the_outcome_is_unknown(failure: str, tmp_path: Path) -> None:
    from portacloud_slurm.errors import SlurmCommandError

    commands = _Sbatch(SlurmCommandError(["sbatch"], 1, failure))
    with pytest.raises(UnavailableError, match="may have been queued") as caught:
        _slurm_driver(commands, tmp_path).submit(
            JobSpec(name="x", command="true"), env={}, output_uri="file:///o/"
        )
    assert not caught.value.retryable
    assert commands.calls == 1


def test_an_sbatch_that_hangs_says_the_outcome_is_unknown(tmp_path: Path) -> None:
    commands = _Sbatch(subprocess.TimeoutExpired(["sbatch"], 60))
    with pytest.raises(UnavailableError, match=r"within 60 s.*may have been queued") as caught:
        _slurm_driver(commands, tmp_path).submit(
            JobSpec(name="x", command="true"), env={}, output_uri="file:///o/"
        )
    assert not caught.value.retryable
    assert isinstance(caught.value.__cause__, subprocess.TimeoutExpired)


def test_an_unreachable_controller_refused_the_submission(tmp_path: Path) -> None:
    from portacloud_slurm.errors import SlurmCommandError

    stderr = "sbatch: error: Batch job submission failed: Unable to contact slurm controller"
    commands = _Sbatch(SlurmCommandError(["sbatch"], 1, stderr))
    driver = _slurm_driver(commands, tmp_path)
    with pytest.raises(SlurmCommandError) as caught:
        driver.submit(JobSpec(name="x", command="true"), env={}, output_uri="file:///o/")
    mapped = driver.map_error(caught.value)
    assert isinstance(mapped, UnavailableError)
    assert mapped.retryable  # nothing reached the controller: submitting again is safe


def test_slurm_options_are_typed(tmp_path: Path) -> None:
    jobs = pytest.importorskip("portacloud_slurm.jobs")
    opts = jobs.SlurmOptions.model_validate({"account": "", "state_dir": tmp_path})
    assert (opts.account, opts.state_dir) == (None, str(tmp_path))

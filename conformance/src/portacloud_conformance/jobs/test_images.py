"""Container images: the command runs inside the image, as a plain command would on the host.

The image is a ``FROM scratch`` static busybox that scripts/build_test_images.sh builds and
pushes to the registry of ``$PORTACLOUD_TEST_REGISTRY``; its reference comes from
``$PORTACLOUD_TEST_IMAGE_SHELL`` (scripts/servers/registry.sh exports both). Backends that
declare no container runtime skip these tests with the capability's name.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources
from portacloud_conformance.jobs.support import WAIT, output_dir, registry_image, wait_until
from portacloud_conformance.support import require

#: Proves the command ran in the image: the hosts have /etc/os-release, the image does not.
IN_IMAGE = "[ -e /etc/os-release ] || echo in-the-image"


@pytest.fixture
def image(queue: portacloud.JobQueue) -> str:
    """The shell image, on a backend that runs images with podman."""
    require(queue, "images")
    if "podman" not in queue.capabilities.container_runtimes:
        pytest.skip(f"container_runtimes is {queue.capabilities.container_runtimes!r}: no podman")
    return registry_image("SHELL")


def test_image_job_sees_env_workdir_and_exit_code(queue: portacloud.JobQueue, image: str) -> None:
    command = (
        f'{IN_IMAGE}; echo "value=[$PC_VALUE] id=[$PORTACLOUD_JOB_ID] '
        'task=[$PORTACLOUD_TASK_INDEX] out=[$PORTACLOUD_OUTPUT_URI]"; '
        'echo here >file-in-cwd && cat "$(pwd)/file-in-cwd"; exit 7'
    )
    spec = JobSpec(name="img-env", image=image, command=command, env={"PC_VALUE": "a b; $x"})
    job = queue.submit(spec)
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.exit_code == 7
    assert status.reason is JobReason.USER_ERROR
    logs = queue.logs(job.id)
    assert "in-the-image" in logs
    assert "value=[a b; $x]" in logs
    assert f"id=[{job.id}]" in logs
    assert "task=[0]" in logs
    assert f"out=[{job.output_uri}]" in logs
    assert "here" in logs.split()


def test_image_argv_command_succeeds(queue: portacloud.JobQueue, image: str) -> None:
    job = queue.submit(JobSpec(name="img-argv", image=image, command=("echo", "$NOT", "two words")))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    assert "$NOT two words" in queue.logs(job.id)


def test_image_job_gets_its_gpus(queue: portacloud.JobQueue, image: str) -> None:
    require(queue, "max_gpus_per_job")
    spec = JobSpec(
        name="img-gpu",
        image=image,
        command='echo "gpus=[$CUDA_VISIBLE_DEVICES]"',
        resources=Resources(gpus=1),
    )
    job = queue.submit(spec)
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    line = next(x for x in queue.logs(job.id).splitlines() if x.startswith("gpus=["))
    visible = line.removeprefix("gpus=[").removesuffix("]")
    assert visible
    assert "," not in visible


def test_image_job_writes_artifacts_to_its_output_uri(
    queue: portacloud.JobQueue, image: str
) -> None:
    spec = JobSpec(
        name="img-out",
        image=image,
        command='out="${PORTACLOUD_OUTPUT_URI#file://}"; '
        'echo "42 $PORTACLOUD_JOB_ID" >"$out/r.txt"',
    )
    job = queue.submit(spec)
    output_dir(job.output_uri)  # skips where outputs are not a file:// directory
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED, queue.logs(job.id)
    assert job.output_uri is not None
    got = portacloud.open_bucket(job.output_uri).get("r.txt")
    assert got == f"42 {job.id}\n".encode()


def test_cancel_stops_the_container(queue: portacloud.JobQueue, image: str) -> None:
    job = queue.submit(_heartbeat("img-cancel", image))
    beat = output_dir(job.output_uri) / "beat"
    wait_until(queue, job.id, JobState.RUNNING)
    deadline = time.monotonic() + WAIT
    while not beat.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert beat.exists(), f"the container never started: {queue.logs(job.id)}"
    queue.cancel(job.id)
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.CANCELLED
    assert status.reason is JobReason.USER_CANCELLED
    _assert_stopped(beat)


def test_timeout_stops_the_container(queue: portacloud.JobQueue, image: str) -> None:
    require(queue, "timeouts")
    job = queue.submit(_heartbeat("img-timeout", image, timeout=3))
    beat = output_dir(job.output_uri) / "beat"
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.reason is JobReason.TIMEOUT
    assert beat.exists()
    _assert_stopped(beat)


def _heartbeat(name: str, image: str, *, timeout: float | None = None) -> JobSpec:
    """A job whose container touches ``beat`` in its output directory five times a second."""
    command = (
        'out="${PORTACLOUD_OUTPUT_URI#file://}"; while true; do : >"$out/beat"; sleep 0.2; done'
    )
    return JobSpec(name=name, image=image, command=command, timeout=timeout)


def _assert_stopped(beat: Path) -> None:
    """The container's heartbeat file stops changing: nothing of it runs on."""
    time.sleep(3)
    before = beat.stat().st_mtime_ns
    time.sleep(1.5)
    assert beat.stat().st_mtime_ns == before, "the container still runs after the job ended"


def test_image_job_retries_failed_attempts(queue: portacloud.JobQueue, image: str) -> None:
    require(queue, "retries")
    job = queue.submit(
        JobSpec(
            name="img-retry",
            image=image,
            command='echo "try $PORTACLOUD_ATTEMPT"; exit 3',
            retries=1,
        )
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.exit_code == 3
    assert status.attempt == 2
    assert "try 2" in queue.logs(job.id)


def test_missing_image_fails_with_infra_error_naming_it(
    queue: portacloud.JobQueue, image: str
) -> None:
    missing = image.rsplit(":", 1)[0] + "-missing:none"
    job = queue.submit(JobSpec(name="img-missing", image=missing, command="true"))
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.reason is JobReason.INFRA_ERROR
    assert missing in (status.message or "")
    assert missing in queue.logs(job.id)


def test_each_task_of_an_array_names_a_missing_image_as_infra_error(
    queue: portacloud.JobQueue, image: str
) -> None:
    require(queue, "arrays")
    missing = image.rsplit(":", 1)[0] + "-missing:none"
    job = queue.submit(JobSpec(name="img-missing-array", image=missing, command="true", array=2))
    status = queue.wait(job.id, timeout=WAIT)
    assert status.reason is JobReason.INFRA_ERROR
    assert [t.reason for t in status.tasks] == [JobReason.INFRA_ERROR] * 2


def test_malformed_image_reference_is_refused_at_submit(queue: portacloud.JobQueue) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="image"):
        queue.submit({"name": "img-bad", "command": "true", "image": "Upper/Case Name"})

"""Exit codes, environment, logs, outputs and listing."""

from __future__ import annotations

import shlex

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState
from portacloud_conformance.jobs.support import WAIT


def test_exit_zero_succeeds(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="ok", command="true"))
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.SUCCEEDED
    assert status.exit_code in (0, None)
    assert status.reason is None
    assert status.attempt == 1
    assert status.submitted_at is not None
    assert status.ended_at is not None


def test_non_zero_exit_fails_with_code_and_user_error(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="fails", command="exit 7"))
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.FAILED
    assert status.exit_code == 7
    assert status.reason is JobReason.USER_ERROR


def test_argv_command_runs_without_a_shell(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="argv", command=("echo", "$NOT_EXPANDED", "two words")))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    assert "$NOT_EXPANDED two words" in queue.logs(job.id)


def test_env_is_passed(queue: portacloud.JobQueue) -> None:
    spec = JobSpec(
        name="env",
        command='echo "value=[$PC_VALUE] id=[$PORTACLOUD_JOB_ID] out=[$PORTACLOUD_OUTPUT_URI]"',
        env={"PC_VALUE": "hello world; $x"},
    )
    job = queue.submit(spec)
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    logs = queue.logs(job.id)
    assert "value=[hello world; $x]" in logs
    assert f"id=[{job.id}]" in logs
    assert f"out=[{job.output_uri}]" in logs


def test_stdout_and_stderr_are_complete(queue: portacloud.JobQueue) -> None:
    command = (
        "for i in $(seq 1 2000); do echo out-$i; done; "
        "for i in $(seq 1 500); do echo err-$i >&2; done"
    )
    job = queue.submit(JobSpec(name="logs", command=command))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    logs = queue.logs(job.id)
    lines = set(logs.split())
    assert all(f"out-{i}" in lines for i in range(1, 2001))
    assert all(f"err-{i}" in lines for i in range(1, 501))


def test_follow_logs_ends_with_the_job(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="follow", command="echo first; sleep 1; echo second"))
    text = "".join(queue.logs(job.id, follow=True))
    assert "first" in text
    assert "second" in text
    assert queue.status(job.id).state.terminal


def test_outputs_written_to_output_uri_are_readable(
    queue: portacloud.JobQueue, job_python: str
) -> None:
    script = (
        "import os, portacloud; "
        "b = portacloud.open_bucket(os.environ['PORTACLOUD_OUTPUT_URI']); "
        "b.put('result.txt', b'42 ' + os.environ['PORTACLOUD_JOB_ID'].encode())"
    )
    job = queue.submit(
        JobSpec(name="outputs", command=f"{shlex.quote(job_python)} -c {shlex.quote(script)}")
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert status.state is JobState.SUCCEEDED, queue.logs(job.id)
    assert job.output_uri is not None
    assert status.output_uri == job.output_uri
    result = portacloud.open_bucket(job.output_uri).get("result.txt")
    assert result == b"42 " + job.id.encode()


def test_get_and_list(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="listed", command="true"))
    queue.wait(job.id, timeout=WAIT)
    again = queue.get(job.id)
    assert again.id == job.id
    assert again.name == "listed"
    assert job.id in [j.id for j in queue.list(name="listed")]
    assert job.id in [j.id for j in queue.list(state="SUCCEEDED")]
    assert job.id not in [j.id for j in queue.list(state=JobState.FAILED)]


def test_unknown_job_is_not_found(queue: portacloud.JobQueue) -> None:
    with pytest.raises(portacloud.NotFoundError):
        queue.status("no-such-job-0000")


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "bad name!", "command": "true"},
        {"name": "x", "command": ""},
        {"name": "x", "command": "true", "env": {"PORTACLOUD_JOB_ID": "1"}},
        {"name": "x", "command": "true", "retries": -1},
        {"name": "x", "command": "true", "resources": {"gpus": "A100:0"}},
        {"name": "x", "command": "true", "unknown": 1},
    ],
)
def test_invalid_specs_are_refused_before_submission(
    queue: portacloud.JobQueue, bad: dict[str, object]
) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        queue.submit(bad)

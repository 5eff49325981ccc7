"""The slurm:// job backend against a real single-node Slurm (scripts/servers/slurm.sh).

The cluster has two fake GPUs (gres gpu:fake:2, device files that are symlinks to /dev/null),
so Slurm allocates them and sets CUDA_VISIBLE_DEVICES as it would for real ones. What the
driver reports is checked against what Slurm itself says (``scontrol``, run directly) and
against the processes the jobs leave behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources
from portacloud.jobs.queue import JobQueue
from portacloud_slurm.commands import SlurmCommands
from portacloud_slurm.errors import SlurmCommandError
from portacloud_slurm.jobs import provider

pytestmark = pytest.mark.integration

WAIT = 90.0
PARTITION = "debug"


@pytest.fixture
def queue(slurm_conf: str) -> Iterator[portacloud.JobQueue]:
    with portacloud.open_jobs(f"slurm://{PARTITION}", conf=slurm_conf) as q:
        yield q


def scontrol(slurm_conf: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Ask Slurm directly, behind the driver's back."""
    return subprocess.run(
        ["scontrol", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SLURM_CONF": slurm_conf},
        timeout=60,
        check=False,
    )


def slurm_job(slurm_conf: str, job_id: str) -> dict[str, str]:
    """``scontrol -o show job ID`` of a plain job, as a dict of its fields."""
    line = scontrol(slurm_conf, "-o", "show", "job", job_id).stdout.splitlines()[0]
    return dict(re.findall(r"(\S+?)=(\S*)", line))


def wait_for(queue: portacloud.JobQueue, job_id: str, state: JobState) -> portacloud.JobStatus:
    deadline = time.monotonic() + WAIT
    while True:
        status = queue.status(job_id)
        if status.state is state or status.state.terminal:
            return status
        assert time.monotonic() < deadline, f"{job_id} still {status.state}"
        time.sleep(0.2)


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


# ---------------------------------------------------------------------- GPUs


@pytest.mark.parametrize("count", [1, 2])
def test_gpu_job_sees_exactly_its_fake_devices(
    queue: portacloud.JobQueue, slurm_conf: str, count: int
) -> None:
    assert queue.capabilities.max_gpus_per_job == 2  # read from the node's gres at open
    job = queue.submit(
        JobSpec(
            name=f"gpu{count}",
            command='echo "visible=[$CUDA_VISIBLE_DEVICES] slurm=[$SLURM_JOB_GPUS]"',
            resources=Resources(gpus=count),
        )
    )
    assert slurm_job(slurm_conf, job.id)["TresPerNode"] == f"gres:gpu:{count}"
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    match = re.search(r"visible=\[([^\]]*)\] slurm=\[([^\]]*)\]", queue.logs(job.id))
    assert match is not None
    devices = match.group(1).split(",")
    assert len(set(devices)) == count
    assert set(devices) <= {"0", "1"}
    assert match.group(1) == match.group(2)  # exactly the devices Slurm allocated


def test_concurrent_one_gpu_jobs_get_different_devices(
    queue: portacloud.JobQueue, slurm_conf: str, tmp_path: Path
) -> None:
    # Each job waits until both run, so they hold their GPUs at the same time.
    flags = tmp_path / "flags"
    flags.mkdir()
    command = (
        f'touch {flags}/$PORTACLOUD_JOB_ID; echo "visible=[$CUDA_VISIBLE_DEVICES]"; '
        f'for i in $(seq 300); do [ "$(ls {flags} | wc -l)" -ge 2 ] && break; sleep 0.1; done'
    )
    jobs = [
        queue.submit(JobSpec(name=f"share{i}", command=command, resources=Resources(gpus=1)))
        for i in range(2)
    ]
    seen = []
    for job in jobs:
        assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
        match = re.search(r"visible=\[([^\]]*)\]", queue.logs(job.id))
        assert match is not None
        seen.append(match.group(1))
    assert sorted(seen) == ["0", "1"]


def test_job_without_gpus_sees_none(
    queue: portacloud.JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # --export=ALL must not leak it
    job = queue.submit(JobSpec(name="nogpu", command='echo "visible=[$CUDA_VISIBLE_DEVICES]"'))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    assert "visible=[]" in queue.logs(job.id)


def test_gpu_model_request_uses_the_nodes_gpu_type(
    queue: portacloud.JobQueue, slurm_conf: str
) -> None:
    job = queue.submit(JobSpec(name="typed", command="true", resources=Resources(gpus="A100:1")))
    assert slurm_job(slurm_conf, job.id)["TresPerNode"] == "gres:gpu:fake:1"
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED


# ---------------------------------------------------------------------- states


def test_exit_code_maps_to_failed_user_error(queue: portacloud.JobQueue, slurm_conf: str) -> None:
    job = queue.submit(JobSpec(name="exit7", command="exit 7"))
    status = queue.wait(job.id, timeout=WAIT)
    assert (status.state, status.reason, status.exit_code, status.attempt) == (
        JobState.FAILED,
        JobReason.USER_ERROR,
        7,
        1,
    )
    native = slurm_job(slurm_conf, job.id)
    assert (native["JobState"], native["ExitCode"]) == ("FAILED", "7:0")


def test_cancel_running_job_kills_it(
    queue: portacloud.JobQueue, slurm_conf: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    job = queue.submit(JobSpec(name="victim", command=f"echo $$ > {pid_file}; exec sleep 300"))
    assert wait_for(queue, job.id, JobState.RUNNING).state is JobState.RUNNING
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    queue.cancel(job.id)
    status = queue.wait(job.id, timeout=WAIT)
    assert (status.state, status.reason) == (JobState.CANCELLED, JobReason.USER_CANCELLED)
    assert slurm_job(slurm_conf, job.id)["JobState"] == "CANCELLED"
    assert gone(int(pid_file.read_text()), within=30), "the cancelled command still runs"
    queue.cancel(job.id)  # twice is fine
    assert queue.status(job.id).state is JobState.CANCELLED


def test_cancel_pending_job(queue: portacloud.JobQueue, slurm_conf: str) -> None:
    blocker = queue.submit(
        JobSpec(name="blocker", command="sleep 300", resources=Resources(gpus=2))
    )
    try:
        wait_for(queue, blocker.id, JobState.RUNNING)
        waiting = queue.submit(JobSpec(name="waiting", command="true", resources=Resources(gpus=1)))
        status = queue.status(waiting.id)
        assert status.state is JobState.PENDING
        assert slurm_job(slurm_conf, waiting.id)["JobState"] == "PENDING"
        queue.cancel(waiting.id)
        status = queue.wait(waiting.id, timeout=WAIT)
        assert (status.state, status.reason) == (JobState.CANCELLED, JobReason.USER_CANCELLED)
        assert (status.exit_code, status.attempt, status.started_at) == (None, 0, None)
        queue.cancel(waiting.id)
    finally:
        queue.cancel(blocker.id)
    assert queue.wait(blocker.id, timeout=WAIT).state is JobState.CANCELLED


def test_timeout_kills_the_process_group_to_the_second(
    queue: portacloud.JobQueue, slurm_conf: str, tmp_path: Path
) -> None:
    child_file = tmp_path / "child"
    job = queue.submit(
        JobSpec(
            name="slow",
            command=f"sleep 300 & echo $! > {child_file}; sleep 300",
            timeout=2,
        )
    )
    # --time is only an upper bound, in whole minutes: (2 s + kill grace) + slack -> 2 min.
    assert slurm_job(slurm_conf, job.id)["TimeLimit"] == "00:02:00"
    status = queue.wait(job.id, timeout=WAIT)
    assert (status.state, status.reason, status.attempt) == (
        JobState.FAILED,
        JobReason.TIMEOUT,
        1,
    )
    assert status.started_at is not None
    assert status.ended_at is not None
    ran = (status.ended_at - status.started_at).total_seconds()
    assert 2 <= ran < 10
    assert gone(int(child_file.read_text()), within=10), "the command's child survived"


def test_retries_rerun_failed_attempts(queue: portacloud.JobQueue) -> None:
    job = queue.submit(
        JobSpec(name="retried", command='echo "try=$PORTACLOUD_ATTEMPT"; exit 3', retries=2)
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert (status.state, status.exit_code, status.attempt) == (JobState.FAILED, 3, 3)
    assert re.findall(r"try=(\d)", queue.logs(job.id)) == ["1", "2", "3"]


def test_array_tasks_and_their_logs(queue: portacloud.JobQueue, slurm_conf: str) -> None:
    job = queue.submit(
        JobSpec(
            name="arr",
            command='echo "task=$PORTACLOUD_TASK_INDEX of $PORTACLOUD_JOB_ID"; '
            '[ "$PORTACLOUD_TASK_INDEX" != 2 ] || exit 5',
            array=3,
        )
    )
    status = queue.wait(job.id, timeout=WAIT)
    assert (status.state, status.exit_code) == (JobState.FAILED, 5)
    assert [(t.index, t.state) for t in status.tasks] == [
        (0, JobState.SUCCEEDED),
        (1, JobState.SUCCEEDED),
        (2, JobState.FAILED),
    ]
    logs = queue.logs(job.id)
    for i in range(3):
        assert f"[task {i}] task={i} of {job.id}" in logs
    # The job id is Slurm's array job id.
    assert f"ArrayJobId={job.id}" in scontrol(slurm_conf, "-o", "show", "job", job.id).stdout


def test_env_values_survive_commas_quotes_and_newlines(queue: portacloud.JobQueue) -> None:
    value = "a,b=c \"d\" 'e' $HOME `f` \\ \nsecond line"
    job = queue.submit(JobSpec(name="env", command='printf "[%s]" "$V"', env={"V": value}))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    assert queue.logs(job.id) == f"[{value}]"


def test_list_and_follow(queue: portacloud.JobQueue) -> None:
    first = queue.submit(JobSpec(name="first", command="true"))
    second = queue.submit(JobSpec(name="second", command="echo one; sleep 1; echo two"))
    text = "".join(queue.logs(second.id, follow=True))
    assert text == "one\ntwo\n"
    queue.wait(first.id, timeout=WAIT)
    listed = [s.id for s in queue.list()]
    assert listed[:2] == [second.id, first.id]


def test_another_state_dir_finds_the_job_through_slurm(
    queue: portacloud.JobQueue, slurm_conf: str, tmp_path: Path
) -> None:
    job = queue.submit(JobSpec(name="shared", command="echo shared-output"))
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED
    other_dir = str(tmp_path / "other")
    with portacloud.open_jobs("slurm://debug", conf=slurm_conf, state_dir=other_dir) as other:
        status = other.status(job.id)
        assert (status.name, status.state, status.attempt, status.output_uri) == (
            "shared",
            JobState.SUCCEEDED,
            1,
            job.output_uri,
        )
        assert other.logs(job.id) == "shared-output\n"
        assert other.list() == []  # a queue lists the jobs of its own state_dir


def test_job_submitted_outside_portacloud(
    queue: portacloud.JobQueue, slurm_conf: str, tmp_path: Path
) -> None:
    out = tmp_path / "plain.out"
    done = subprocess.run(
        ["sbatch", "--parsable", "-p", PARTITION, "-o", str(out), "--wrap", "echo plain; exit 3"],
        capture_output=True,
        text=True,
        env={**os.environ, "SLURM_CONF": slurm_conf},
        timeout=60,
        check=True,
    )
    job_id = done.stdout.strip()
    status = queue.wait(job_id, timeout=WAIT)
    assert (status.name, status.state, status.reason, status.exit_code, status.attempt) == (
        "wrap",
        JobState.FAILED,
        JobReason.USER_ERROR,
        3,
        1,
    )
    assert status.output_uri is None
    assert queue.logs(job_id) == "plain\n"


# ---------------------------------------------------------------------- fail fast


def test_impossible_gpu_request_fails_at_submit(queue: portacloud.JobQueue) -> None:
    started = time.monotonic()
    with pytest.raises(portacloud.InvalidArgumentError) as caught:
        queue.submit(JobSpec(name="too-big", command="true", resources=Resources(gpus=3)))
    assert time.monotonic() - started < 10
    assert "Requested node configuration is not available" in caught.value.message
    assert "2 GPU(s)" in caught.value.message
    assert type(caught.value.__cause__).__name__ == "SlurmCommandError"
    jobs_dir = Path(os.environ["PORTACLOUD_HOME"]) / "slurm"
    assert not list(jobs_dir.glob("*/jobs/too-big-*")), "a refused job left its directory"


def test_too_many_cpus_fails_at_submit(queue: portacloud.JobQueue) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="CPUs"):
        queue.submit(JobSpec(name="cpus", command="true", resources=Resources(cpus=512)))


@pytest.fixture
def tiny_partition(slurm_conf: str) -> Iterator[str]:
    """A partition that allows one CPU per node: sbatch accepts -c 2 there, Slurm never runs it."""
    name = f"pc{uuid.uuid4().hex[:6]}"
    made = scontrol(slurm_conf, "create", f"PartitionName={name}", "Nodes=ALL", "MaxCPUsPerNode=1")
    assert made.returncode == 0, made.stderr
    yield name
    scontrol(slurm_conf, "delete", f"PartitionName={name}")


def test_job_slurm_can_never_start_fails_with_no_capacity(
    slurm_conf: str, tiny_partition: str
) -> None:
    with portacloud.open_jobs(f"slurm://{tiny_partition}", conf=slurm_conf) as q:
        job = q.submit(JobSpec(name="hopeless", command="true", resources=Resources(cpus=2)))
        status = q.wait(job.id, timeout=20)
        assert (status.state, status.reason) == (JobState.FAILED, JobReason.NO_CAPACITY)
        assert status.message is not None
        assert "PartitionConfig" in status.message
        # The driver cancelled it, so it does not wait forever, and it stays FAILED.
        assert slurm_job(slurm_conf, job.id)["JobState"] == "CANCELLED"
        assert q.status(job.id).reason is JobReason.NO_CAPACITY


# ---------------------------------------------------------------------- errors


def test_unknown_ids_are_not_found(queue: portacloud.JobQueue) -> None:
    for bad in ("99999999", "no-such-job", "12_3"):
        with pytest.raises(portacloud.NotFoundError):
            queue.status(bad)
        with pytest.raises(portacloud.NotFoundError):
            queue.cancel(bad)
        with pytest.raises(portacloud.NotFoundError):
            queue.logs(bad)


def test_unknown_partition_is_not_found(slurm_conf: str) -> None:
    with pytest.raises(portacloud.NotFoundError, match="not found") as caught:
        portacloud.open_jobs("slurm://no-such-partition", conf=slurm_conf)
    assert type(caught.value.__cause__).__name__ == "SlurmCommandError"


def test_missing_conf_fails_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(portacloud.InvalidArgumentError, match=r"slurm\.conf"):
        portacloud.open_jobs("slurm://debug", conf=str(tmp_path / "nope.conf"))
    assert time.monotonic() - started < 5


def test_missing_slurm_client_says_what_to_install(
    queue: portacloud.JobQueue, slurm_conf: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(portacloud.UnsupportedError, match="slurm-client"):
        portacloud.open_jobs("slurm://debug", conf=slurm_conf)
    with pytest.raises(portacloud.UnsupportedError, match="slurm-client"):
        queue.submit(JobSpec(name="x", command="true"))


def test_status_falls_back_to_accounting_when_the_controller_forgot(
    slurm_conf: str, tmp_path: Path
) -> None:
    """After MinJobAge scontrol no longer knows a job; sacct -c (jobcomp/filetxt) still does."""

    class Forgetful(SlurmCommands):
        def run(self, command: str, *args: str) -> str:
            if command == "scontrol" and args[:3] == ("-o", "show", "job") and len(args) == 4:
                raise SlurmCommandError(
                    [command, *args], 1, "slurm_load_jobs error: Invalid job id specified"
                )
            return super().run(command, *args)

    driver = provider.open_jobs(urlsplit("slurm://debug"), {"conf": slurm_conf})
    queue = JobQueue(driver, url="slurm://debug", outputs=tmp_path.as_uri())
    pending = queue.submit(JobSpec(name="p", command="sleep 300"))
    queue.cancel(pending.id)
    done = queue.submit(JobSpec(name="d", command="exit 4"))
    assert queue.wait(done.id, timeout=WAIT).exit_code == 4
    queue.wait(pending.id, timeout=WAIT)
    driver.commands = Forgetful(conf=slurm_conf)
    status = queue.status(done.id)  # from the batch script's own report
    assert (status.state, status.exit_code, status.name) == (JobState.FAILED, 4, "d")
    cancelled = queue.status(pending.id)
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.name == "p"


def test_no_native_exception_escapes(
    queue: portacloud.JobQueue, slurm_conf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A controller that does not answer: every public call raises a portacloud error.
    job = queue.submit(JobSpec(name="known", command="true"))
    driver = queue._driver
    original = driver.commands.run

    def broken(command: str, *args: str) -> str:
        raise subprocess.TimeoutExpired([command, *args], 60)

    monkeypatch.setattr(driver.commands, "run", broken)
    for call in (
        lambda: queue.submit(JobSpec(name="x", command="true")),
        lambda: queue.status(job.id),
        queue.list,
        lambda: queue.cancel(job.id),
        lambda: "".join(queue.logs(job.id, follow=True)),
    ):
        with pytest.raises(portacloud.UnavailableError) as caught:
            call()
        assert isinstance(caught.value.__cause__, subprocess.TimeoutExpired)
    monkeypatch.setattr(driver.commands, "run", original)
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED

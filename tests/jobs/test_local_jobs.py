"""local:// specifics the portable suite cannot see: process trees, lost supervisors, models."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources


@pytest.fixture
def queue() -> portacloud.JobQueue:
    return portacloud.open_jobs("local://unit?gpus=2")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:  # reaped between the kill(0) and the read
        return False


def test_timeout_kills_the_whole_process_tree(queue: portacloud.JobQueue, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    command = f"sleep 300 & echo $! > {pidfile}; sleep 300"
    job = queue.submit(JobSpec(name="tree", command=command, timeout=1))
    status = queue.wait(job.id, timeout=30)
    assert status.state is JobState.FAILED
    assert status.reason is JobReason.TIMEOUT
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(child), "the background child outlived the timeout"


def test_lost_supervisor_fails_the_job_as_infra_error(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="orphan", command="sleep 300"))
    deadline = time.monotonic() + 30
    while queue.status(job.id).state is not JobState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    db = portacloud.portacloud_home() / "jobs" / "unit" / "jobs.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        pid, pgid = conn.execute(
            "SELECT supervisor_pid, pgid FROM tasks WHERE job_id = ?", (job.id,)
        ).fetchone()
    os.kill(pid, signal.SIGKILL)
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    status = queue.wait(job.id, timeout=30)
    assert status.state is JobState.FAILED
    assert status.reason is JobReason.INFRA_ERROR


def test_jobs_that_do_not_fit_yet_stay_pending(queue: portacloud.JobQueue) -> None:
    first = queue.submit(JobSpec(name="hog", command="sleep 300", resources=Resources(gpus=2)))
    try:
        deadline = time.monotonic() + 30
        while queue.status(first.id).state is not JobState.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        second = queue.submit(
            JobSpec(
                name="next", command="echo [$CUDA_VISIBLE_DEVICES]", resources=Resources(gpus=1)
            )
        )
        time.sleep(1.5)
        assert queue.status(second.id).state is JobState.PENDING
    finally:
        queue.cancel(first.id)
    assert queue.wait(second.id, timeout=30).state is JobState.SUCCEEDED


def test_gpu_type_must_match_the_inventory() -> None:
    queue = portacloud.open_jobs("local://typed?gpus=1&gpu_type=NVIDIA H100 80GB HBM3")
    ok = queue.submit(JobSpec(name="h100", command="true", resources=Resources(gpus="H100:1")))
    assert queue.wait(ok.id, timeout=30).state is JobState.SUCCEEDED
    wrong = queue.submit(JobSpec(name="a100", command="true", resources=Resources(gpus="A100:1")))
    status = queue.wait(wrong.id, timeout=30)
    assert status.reason is JobReason.NO_CAPACITY
    assert "H100" in (status.message or "")


def test_state_is_shared_with_other_processes(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="shared", command="echo from-the-job"))
    queue.wait(job.id, timeout=30)
    out = subprocess.run(
        [sys.executable, "-m", "portacloud.cli", "jobs", "status", job.id, "--on", "local://unit"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["state"] == "SUCCEEDED"


def test_unsupported_spec_fields_name_the_capability(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Images are declared where a container runtime is on the PATH: here, none is.
    monkeypatch.setenv("PATH", str(tmp_path))
    with portacloud.open_jobs("local://unit?gpus=0") as queue:
        assert queue.capabilities.container_runtimes == ()
        with pytest.raises(portacloud.UnsupportedError, match="images"):
            queue.submit(JobSpec(name="img", command="true", image="python:3.11"))


def test_connect_sends_job_outputs_to_profile_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    config = tmp_path / "portacloud.toml"
    config.write_text(f'[profiles.default]\nstorage = "{store.as_uri()}"\njobs = "local://prof"\n')
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    conn = portacloud.connect()
    job = conn.jobs.submit(JobSpec(name="out", command="true"))
    assert job.output_uri is not None
    assert job.output_uri.startswith(store.as_uri() + "/jobs/out-")


@pytest.mark.parametrize(
    ("gpus", "count", "kind"),
    [(None, 0, None), (2, 2, None), ("A100:8", 8, "A100"), ("H100", 1, "H100"), ("4", 4, None)],
)
def test_resources_gpu_forms(gpus: object, count: int, kind: str | None) -> None:
    res = Resources(gpus=gpus)  # type: ignore[arg-type]
    assert res.gpu_count == count
    assert res.gpu_type == kind


@pytest.mark.parametrize("gpus", [-1, 65, "A100:0", "A100:x", ":2", True, "A 100"])
def test_resources_reject_bad_gpus(gpus: object) -> None:
    with pytest.raises(ValueError, match="gpu"):  # pydantic's ValidationError is a ValueError
        Resources(gpus=gpus)  # type: ignore[arg-type]


def test_gpus_go_to_waiting_jobs_first_in_first_out() -> None:
    queue = portacloud.open_jobs("local://fifo?gpus=1")
    jobs = [
        queue.submit(JobSpec(name=f"fifo{i}", command="sleep 0.5", resources=Resources(gpus=1)))
        for i in range(3)
    ]
    done = [queue.wait(j.id, timeout=60) for j in jobs]
    assert all(s.state is JobState.SUCCEEDED for s in done)
    for earlier, later in itertools.pairwise(done):
        assert earlier.ended_at is not None
        assert later.started_at is not None
        assert later.started_at >= earlier.ended_at

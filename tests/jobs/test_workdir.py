"""``JobSpec.workdir`` on local://: the directory is shipped with the job, as Ray ships one.

The README's job runs ``python train.py``: that only works when the job runs in a copy of the
directory ``train.py`` sits in, whatever directory the supervisor itself was started in.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

import portacloud
from portacloud import JobSpec, JobState

PYTHON = shlex.quote(sys.executable)


@pytest.fixture
def queue() -> portacloud.JobQueue:
    return portacloud.open_jobs("local://workdir")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding a script and its data, as a user's project does."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.txt").write_text("21\n")
    (root / "train.py").write_text(
        "import pathlib\n"
        "n = int(pathlib.Path('data.txt').read_text())\n"
        "pathlib.Path('model.txt').write_text(str(2 * n))\n"
        "print('trained', 2 * n)\n"
    )
    return root


def _run(
    queue: portacloud.JobQueue, spec: JobSpec | dict[str, Any], base_dir: Path | None = None
) -> portacloud.JobStatus:
    job = queue.submit(spec) if base_dir is None else queue.submit(spec, base_dir=base_dir)
    status = queue.wait(job.id, timeout=60)
    assert status.state is JobState.SUCCEEDED, queue.logs(job.id)
    return status


def test_the_job_runs_in_a_copy_of_its_workdir(queue: portacloud.JobQueue, project: Path) -> None:
    spec = JobSpec(name="train", command=f"{PYTHON} train.py", workdir=str(project))
    job = queue.submit(spec)
    assert queue.wait(job.id, timeout=60).state is JobState.SUCCEEDED, queue.logs(job.id)
    assert queue.logs(job.id).strip() == "trained 42"
    # the job wrote into its copy, never into the user's directory
    assert sorted(p.name for p in project.iterdir()) == ["data.txt", "train.py"]


def test_a_relative_workdir_is_resolved_at_submit(
    queue: portacloud.JobQueue, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent)
    _run(queue, JobSpec(name="rel", command=f"{PYTHON} train.py", workdir="project"))


def test_a_spec_file_workdir_is_relative_to_the_spec_file(
    queue: portacloud.JobQueue, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = {"name": "fromyaml", "command": f"{PYTHON} train.py", "workdir": "."}
    _run(queue, spec, base_dir=project)


def test_each_task_of_an_array_gets_its_own_copy(queue: portacloud.JobQueue, project: Path) -> None:
    # mkdir fails when the directory exists: a shared directory fails the second task
    spec = JobSpec(name="arr", command="mkdir claimed", workdir=str(project), array=3)
    _run(queue, spec)
    assert not (project / "claimed").exists()


def test_edits_after_submit_do_not_reach_the_job(queue: portacloud.JobQueue, project: Path) -> None:
    job = queue.submit(JobSpec(name="snap", command="sleep 1; cat data.txt", workdir=str(project)))
    (project / "data.txt").write_text("edited\n")
    assert queue.wait(job.id, timeout=60).state is JobState.SUCCEEDED
    assert queue.logs(job.id).strip() == "21"


def test_links_ship_as_links(queue: portacloud.JobQueue, project: Path, tmp_path: Path) -> None:
    big = tmp_path / "dataset.bin"
    big.write_bytes(b"x" * 1024)
    (project / "dataset.bin").symlink_to(big)
    _run(queue, JobSpec(name="link", command="test -L dataset.bin", workdir=str(project)))


def test_a_missing_workdir_fails_at_submit(queue: portacloud.JobQueue, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(
        portacloud.InvalidArgumentError, match=f"workdir '{missing}' does not exist"
    ):
        queue.submit(JobSpec(name="nowd", command="true", workdir=str(missing)))
    assert not missing.exists()
    assert queue.list(name="nowd") == []  # refused before the job existed


def test_without_a_workdir_the_job_gets_an_empty_scratch_dir(
    queue: portacloud.JobQueue,
) -> None:
    job = queue.submit(JobSpec(name="scratch", command="ls -A | wc -l; pwd"))
    assert queue.wait(job.id, timeout=60).state is JobState.SUCCEEDED
    count, cwd = queue.logs(job.id).split()
    assert count == "0"
    assert cwd.endswith(f"/work/{job.id}/task-0")


def test_the_cli_resolves_workdir_against_the_spec_file(project: Path, tmp_path: Path) -> None:
    import subprocess

    (project / "train.yaml").write_text(
        f"name: cli\ncommand: {PYTHON} train.py\nworkdir: .\n", encoding="utf-8"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    spec = str(project / "train.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "portacloud.cli", "jobs", "submit", spec, "--wait", "60"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

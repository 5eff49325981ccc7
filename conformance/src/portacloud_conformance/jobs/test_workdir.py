"""``JobSpec.workdir``: a local directory shipped to every task's working directory."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

import portacloud
from portacloud import JobSpec, JobState
from portacloud_conformance.jobs.support import WAIT
from portacloud_conformance.support import require, require_missing

# One line per path: "has P" or "no P", so the log says exactly what shipped.
_PROBE = 'for f in "$@"; do if [ -e "$f" ]; then echo "has $f"; else echo "no $f"; fi; done'


def _run(queue: portacloud.JobQueue, spec: JobSpec) -> str:
    job = queue.submit(spec)
    status = queue.wait(job.id, timeout=WAIT)
    logs = queue.logs(job.id)
    assert status.state is JobState.SUCCEEDED, logs
    return logs


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project: a script's data, beside the spec file."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.txt").write_text("21\n")
    return root


def test_a_file_next_to_the_spec_is_readable(queue: portacloud.JobQueue, project: Path) -> None:
    require(queue, "workdir")
    spec = {"name": "wd-read", "command": "cat data.txt", "workdir": "."}  # as in a YAML spec
    job = queue.submit(spec, base_dir=project)
    assert queue.wait(job.id, timeout=WAIT).state is JobState.SUCCEEDED, queue.logs(job.id)
    assert queue.logs(job.id) == "21\n"


def test_each_task_of_an_array_sees_its_own_copy(queue: portacloud.JobQueue, project: Path) -> None:
    require(queue, "workdir")
    require(queue, "arrays")
    # mkdir fails where the directory exists: tasks sharing one directory fail
    spec = JobSpec(name="wd-array", command="mkdir claimed && cat data.txt", workdir=str(project))
    logs = _run(queue, spec.model_copy(update={"array": 3}))
    assert sorted(logs.splitlines()) == [f"[task {i}] 21" for i in range(3)]
    assert sorted(p.name for p in project.iterdir()) == ["data.txt"]  # the user's copy as it was


def test_excludes_are_respected(queue: portacloud.JobQueue, project: Path) -> None:
    require(queue, "workdir")
    (project / ".gitignore").write_text("*.log\nbuild/\n")
    (project / ".portacloudignore").write_text("secret.txt\n!keep.log\n")
    (project / "build").mkdir()
    (project / "build" / "out.bin").write_bytes(b"\0" * 64)
    (project / "sub").mkdir()
    (project / "sub" / ".gitignore").write_text("local.txt\n")
    for name in ("skip.log", "keep.log", "secret.txt", "sub/local.txt", "sub/kept.txt"):
        (project / name).write_text(name)
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    paths = ["data.txt", "keep.log", "sub/kept.txt", "skip.log", "build", "secret.txt"]
    paths += ["sub/local.txt", ".git"]
    spec = JobSpec(name="wd-excl", command=("bash", "-c", _PROBE, "probe", *paths))
    logs = _run(queue, spec.model_copy(update={"workdir": str(project)}))
    assert logs.splitlines() == [f"has {p}" for p in paths[:3]] + [f"no {p}" for p in paths[3:]]


def test_a_symlink_out_of_the_workdir_is_not_followed(
    queue: portacloud.JobQueue, project: Path, tmp_path: Path
) -> None:
    require(queue, "workdir")
    secret = tmp_path / "outside.txt"
    token = f"never-shipped-{secrets.token_hex(8)}"
    secret.write_text(token)
    (project / "leak").symlink_to(secret)  # absolute, out of the workdir
    (project / "alias.txt").symlink_to("data.txt")  # inside: its file ships
    # The link is either absent or still a link: its target's bytes were never copied.
    command = "cat alias.txt; if [ -L leak ] || [ ! -e leak ]; then echo kept-out; fi"
    logs = _run(queue, JobSpec(name="wd-link", command=command, workdir=str(project)))
    assert logs == "21\nkept-out\n"


def test_an_oversized_workdir_is_refused_at_submit(
    queue: portacloud.JobQueue, project: Path
) -> None:
    require(queue, "workdir")
    (project / "weights.bin").write_bytes(b"\0" * (2 * 2**20))
    spec = JobSpec(name="wd-big", command="true", workdir=str(project))
    with pytest.raises(portacloud.InvalidArgumentError) as caught:
        queue.submit(spec, workdir_limit_mb=1)
    message = str(caught.value)
    assert "ships 2.0 MiB" in message
    assert "limit of 1 MiB" in message
    assert "weights.bin (2.0 MiB)" in message
    assert queue.list(name="wd-big") == []  # refused before anything was submitted


@pytest.mark.parametrize("what", ["missing", "a file"])
def test_a_workdir_that_is_not_a_directory_is_refused(
    queue: portacloud.JobQueue, project: Path, what: str
) -> None:
    require(queue, "workdir")
    path = project / ("missing" if what == "missing" else "data.txt")
    with pytest.raises(portacloud.InvalidArgumentError, match=str(path)):
        queue.submit(JobSpec(name="wd-none", command="true", workdir=str(path)))


def test_a_backend_without_workdir_refuses_it(queue: portacloud.JobQueue, project: Path) -> None:
    require_missing(queue, "workdir")
    with pytest.raises(portacloud.UnsupportedError, match="workdir"):
        queue.submit(JobSpec(name="wd-unsup", command="true", workdir=str(project)))

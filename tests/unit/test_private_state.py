"""Everything portacloud keeps under PORTACLOUD_HOME, and every journal and receipt, is private.

Runs under umask 022 (the usual one) and 000 (the worst): directories must come out 0700 and
files 0600 either way, as kubectl and the aws CLI keep their state.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import portacloud
from portacloud import JobSpec, JobState
from portacloud.migrate import migrate

# job outputs and the default file:// storage are written by the file:// backend, whose
# modes are its own business (providers/local.py)
_NOT_OURS = ("job-outputs", "storage")


def home() -> Path:
    return Path(os.environ["PORTACLOUD_HOME"])


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, str]:
    """Relative path -> octal mode of everything under ``root`` that is not 0700/0600."""
    loose = {}
    for path in [root, *root.rglob("*")]:
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in _NOT_OURS:
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            loose[str(rel)] = oct(mode)
    return loose


def test_jobs_compute_and_migrations_under_home_are_private(umask: int, tmp_path: Path) -> None:
    queue = portacloud.open_jobs("local://secret?gpus=1")
    job = queue.submit(JobSpec(name="tok", command="echo $TOKEN", env={"TOKEN": "s3cr3t"}))
    assert queue.wait(job.id, timeout=60).state is JobState.SUCCEEDED
    compute = portacloud.open_compute("local://secret")
    instance = compute.create({"name": "box", "instance_type": "local.small"})
    compute.wait(instance.id, "RUNNING", timeout=60)
    compute.terminate(instance.id)
    src = portacloud.open_bucket("memory://private-src")
    src.put("a.txt", b"a")
    result = migrate(src, (tmp_path / "dst").as_uri())
    assert result.receipt is not None
    assert Path(result.receipt).is_relative_to(home())
    assert (home() / "jobs" / "secret" / "jobs.db").exists()
    assert (home() / "migrations").is_dir()
    assert _modes(home()) == {}


def test_an_explicit_journal_and_receipt_are_private(umask: int, tmp_path: Path) -> None:
    src = portacloud.open_bucket("memory://private-journal")
    src.put("a.txt", b"a")
    journal = tmp_path / "j.db"
    receipt = tmp_path / "out" / "receipt.jsonl"
    migrate(src, (tmp_path / "dst").as_uri(), journal=journal, receipt=receipt)
    for path in tmp_path.iterdir():
        if path.name.startswith("j.db"):  # the journal, its -wal/-shm and its lock
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(receipt.stat().st_mode) == 0o600
    assert stat.S_IMODE(receipt.parent.stat().st_mode) == 0o700


def test_an_existing_open_store_is_tightened_on_open() -> None:
    queue = portacloud.open_jobs("local://old")
    job = queue.submit(JobSpec(name="old", command="true"))
    queue.wait(job.id, timeout=60)
    # What an older portacloud left: world-readable everything.
    for path in [home(), *home().rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    portacloud.open_jobs("local://old").status(job.id)
    store = home() / "jobs" / "old"
    # work/<job> holds the job's own files: closed off by work/ itself
    assert {k: v for k, v in _modes(store).items() if not k.startswith("work/")} == {}
    assert stat.S_IMODE((store / "work").stat().st_mode) == 0o700
    assert stat.S_IMODE(home().stat().st_mode) == 0o700


def test_a_journal_in_a_missing_directory_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    (tmp_path / "src").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "portacloud.cli",
            "migrate",
            (tmp_path / "src").as_uri(),
            (tmp_path / "dst").as_uri(),
            "--journal",
            str(missing / "j.db"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: [NOT_FOUND]")
    assert str(missing) in errors[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "no").exists()


def test_an_open_journal_and_its_wal_are_private(umask: int, tmp_path: Path) -> None:
    from portacloud.migrate.journal import Journal

    path = tmp_path / "open.db"
    with Journal(path, src="memory://a", dst="memory://b"):
        side = [p for p in tmp_path.iterdir() if p.name.startswith("open.db")]
        assert {p.name for p in side} >= {"open.db", "open.db-wal", "open.db.lock"}
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in side} == {
            p.name: 0o600 for p in side
        }


def test_an_old_world_readable_journal_is_tightened(tmp_path: Path) -> None:
    from portacloud.migrate.journal import Journal

    path = tmp_path / "old.db"
    with Journal(path, src="memory://a", dst="memory://b"):
        pass
    path.chmod(0o644)
    with Journal(path, src="memory://a", dst="memory://b"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

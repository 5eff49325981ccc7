"""kill -9 at random points of a real ``portacloud migrate`` process, then resume.

Each seeded trial kills the process twice (at a random time, or once a random number of
objects is journaled) and then reruns the same command to completion. The destination must end
complete and verified, and nothing that was already at the destination when the process died
may be written again: the file backend's etag (inode, mtime, size) of every such object must
be unchanged at the end.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from migrate_helpers import RUNNER, contents, events, file_etags, fill, run_cli

import portacloud
from portacloud.migrate.receipt import file_sha256

SMALL = 300
LARGE = 3
TOTAL = SMALL + LARGE


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("resume-src")
    bucket = portacloud.open_bucket(root.as_uri())
    written = fill(bucket, SMALL, seed=99)
    rng = random.Random(7)
    for i in range(LARGE):
        data = rng.randbytes(12 * 1024 * 1024 + i)  # streamed (above the 8 MiB threshold)
        bucket.put(f"large/{i}.bin", data)
        written[f"large/{i}.bin"] = data
    return root.as_uri(), written


@pytest.fixture(scope="module")
def full_run_seconds(
    source: tuple[str, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> float:
    """How long one uninterrupted run takes here, process start included."""
    out = tmp_path_factory.mktemp("resume-baseline")
    started = time.monotonic()
    done = run_cli(
        "migrate",
        source[0],
        (out / "dst").as_uri(),
        "--journal",
        str(out / "j.sqlite"),
        "-j",
        "4",
    )
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _start(src: str, dst: str, journal: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUNNER), "migrate", src, dst, "--journal", str(journal), "-j", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _journaled(journal: Path) -> int:
    """Objects the journal records as copied or verified (0 before the plan exists)."""
    if not journal.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)) as db:
            (n,) = db.execute(
                "SELECT COUNT(*) FROM objects WHERE state IN ('copied', 'verified')"
            ).fetchone()
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet
    return int(n)


def _copies(journal: Path) -> dict[str, int]:
    with closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
        return {k: int(c) for k, c in db.execute("SELECT key, copies FROM objects")}


def _kill_at_random(
    process: subprocess.Popen[str], journal: Path, rng: random.Random, budget: float
) -> bool:
    """SIGKILL the process at a random moment; return False if it finished first."""
    if rng.random() < 0.5:
        deadline = time.monotonic() + rng.uniform(0.05, budget)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
    else:
        target = rng.randint(1, TOTAL - 1)
        deadline = time.monotonic() + 4 * budget
        while (
            process.poll() is None and _journaled(journal) < target and time.monotonic() < deadline
        ):
            time.sleep(0.002)
    if process.poll() is not None:
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if process.returncode == 0:
        return False  # it finished between the last poll and the signal
    assert process.returncode == -signal.SIGKILL, process.returncode
    return True


@pytest.mark.parametrize("seed", range(6))
def test_kill_9_then_rerun_completes_without_copying_twice(
    seed: int,
    source: tuple[str, dict[str, bytes]],
    full_run_seconds: float,
    tmp_path: Path,
) -> None:
    src_url, written = source
    rng = random.Random(seed)
    dst_root = tmp_path / "dst"
    dst_url = dst_root.as_uri()
    journal = tmp_path / "j.sqlite"
    survivors: dict[str, str] = {}
    kills = 0
    for _ in range(2):
        process = _start(src_url, dst_url, journal)
        try:
            killed = _kill_at_random(process, journal, rng, full_run_seconds)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        process.communicate()
        if not killed:
            break
        kills += 1
        # Whatever is at the destination now is complete (writes are atomic) and identical
        # to the source, which does not change: no later run may write it again.
        at_kill = file_etags(dst_root) if dst_root.exists() else {}
        for key, etag in at_kill.items():
            survivors.setdefault(key, etag)

    done = run_cli("migrate", src_url, dst_url, "--journal", str(journal), "-j", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    (summary,) = events(done.stdout, "summary")
    assert summary["ok"] is True, summary
    assert summary["verified"] == TOTAL, summary
    assert summary["copied"] <= TOTAL - len(survivors), (summary, len(survivors))

    final = file_etags(dst_root)
    rewritten = [key for key, etag in survivors.items() if final.get(key) != etag]
    assert not rewritten, f"objects written again after the kill: {rewritten[:5]}"
    assert all(n <= 1 for n in _copies(journal).values()), "an object was copied twice"
    assert contents(portacloud.open_bucket(dst_url)) == written

    (receipt,) = events(done.stdout, "receipt")
    assert file_sha256(Path(receipt["path"])) == receipt["sha256"]
    assert len(Path(receipt["path"]).read_text().splitlines()) == TOTAL
    assert run_cli("verify", src_url, dst_url).returncode == 0
    # Each trial should really interrupt something; record it for the aggregate check below.
    _KILLS[seed] = (kills, len(survivors))


_KILLS: dict[int, tuple[int, int]] = {}


def test_the_trials_killed_runs_mid_copy() -> None:
    """Guard against trials that only ever killed before the plan or after the end."""
    if len(_KILLS) < 6:
        pytest.skip("runs only after all kill trials in the same session")
    mid_copy = [seed for seed, (kills, kept) in _KILLS.items() if kills and 0 < kept < TOTAL]
    assert len(mid_copy) >= 3, _KILLS

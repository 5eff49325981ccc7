"""Local processes the services controller owns, named by ``PID:STARTTIME`` tokens.

The kernel's start time of a process (field 22 of ``/proc/PID/stat``) goes with its pid, so a
controller restarted later, or a driver cleaning up after a dead controller, never signals an
unrelated process that happens to have been given the same pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress

from portacloud.jobs.local_store import pid_alive

__all__ = ["process_token", "stop_group", "token_alive", "token_pid"]


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return None


def process_token(pid: int) -> str:
    """``PID:STARTTIME`` of a running process."""
    return f"{pid}:{_start_time(pid) or '?'}"


def token_pid(token: str) -> int:
    """The pid in a token (0 for a process that never started)."""
    text = token.partition(":")[0]
    return int(text) if text.isdigit() else 0


def token_alive(token: str) -> bool:
    """Whether the process of a :func:`process_token` still runs (and is the same one)."""
    pid = token_pid(token)
    if pid <= 0 or not pid_alive(pid):
        return False
    started = token.partition(":")[2]
    return started in ("", "?") or _start_time(pid) == started


def stop_group(token: str, *, grace: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """TERM the process group led by the token's process, then KILL it after ``grace``.

    ``proc`` is the process's Popen when it is our child (it is reaped, not left a zombie).
    A process that already ended is not an error.
    """
    pid = token_pid(token)
    if pid <= 0 or (proc is None and not token_alive(token)):
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        ended = proc.poll() is not None if proc is not None else not token_alive(token)
        if ended:
            break
        time.sleep(0.05)
    # Children of a leader that obeyed TERM may still run in its group.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if proc is not None:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

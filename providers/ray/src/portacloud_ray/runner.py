"""The wrapper every portacloud job runs as on a Ray cluster: ``python -m portacloud_ray.runner``.

Ray Jobs have no timeouts, retries or arrays, so the job's entrypoint is this runner and the
runner enforces them the same way on every cluster:

- Array tasks run one after another inside the one Ray job, each with its own
  ``PORTACLOUD_TASK_INDEX`` and all of the job's GPUs (Ray reserves ``entrypoint_num_gpus`` for
  the whole job and puts exactly those in ``CUDA_VISIBLE_DEVICES``). Every task runs even when
  an earlier one failed, as in Slurm and AWS Batch arrays.
- Each attempt runs in its own process group; on timeout the group gets SIGTERM, then SIGKILL
  after a grace period, and whatever is left in it when the attempt's main process exits goes
  the same way. A watchdog inside the group kills it should the runner itself be SIGKILLed.
  A failed attempt runs again up to ``retries`` times.
- When Ray stops the job (SIGTERM to the runner and its process tree) the runner kills the
  attempt's group and exits without starting anything new.
- The attempt's stdout and stderr go through one pipe and are copied unchanged to the runner's
  stdout, which Ray writes to the job's log.
- Between the user's output the runner writes marker lines ``[portacloud-ray NONCE] {json}``
  (task and attempt starts and ends, exit codes, and a final ``done``). The driver reads them
  back from the job log for ``status()`` and strips them from ``logs()``. ``NONCE`` is a
  random token per job (kept in the job's metadata), so marker lines a job happens to print,
  say from another job's log, are never taken for its own. When the user's output did not
  end with a newline the runner inserts one before the marker and says so (``"nl": true``)
  so that it can be taken out again.

Only the standard library is used: the driver ships this package to the cluster with
``runtime_env.py_modules``, so the cluster needs Python and Ray, not portacloud.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CONFIG_ENV",
    "MARKER_PREFIX",
    "OUTCOME_CANCELLED",
    "OUTCOME_EXITED",
    "OUTCOME_SIGNALLED",
    "OUTCOME_TIMEOUT",
    "marker",
    "run",
]

#: The environment variable that carries the runner's settings (JSON), removed before the
#: user's command starts.
CONFIG_ENV = "PORTACLOUD_RAY_RUNNER"
#: Every marker line starts with this, then the job's nonce, ``"] "`` and a JSON object.
MARKER_PREFIX = "[portacloud-ray "

#: How an attempt ended: the command exited by itself (``exit_code``)...
OUTCOME_EXITED = "exited"
#: ...was killed by a signal nobody in portacloud sent (``signal``; SIGKILL is the OOM killer's)
OUTCOME_SIGNALLED = "signalled"
#: ...ran past the spec's ``timeout`` and was killed...
OUTCOME_TIMEOUT = "timeout"
#: ...or was killed because Ray stopped the job.
OUTCOME_CANCELLED = "cancelled"

_POLL = 0.1
_TIMEOUT_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when an attempt times out
_STOP_GRACE = 2.0  # shorter: Ray SIGKILLs the whole tree 3 s after its own SIGTERM
_LEFTOVER_GRACE = 1.0  # background processes left behind by an attempt that exited
_RELAY_JOIN = 5.0


def marker(nonce: str, event: Mapping[str, Any], *, newline_inserted: bool = False) -> str:
    """The marker line for ``event`` (a JSON object), with its trailing newline."""
    body = dict(event)
    if newline_inserted:
        body["nl"] = True
    return f"{MARKER_PREFIX}{nonce}] {json.dumps(body, separators=(',', ':'))}\n"


class _Log:
    """The runner's stdout (the Ray job log): user bytes and marker lines, never interleaved."""

    def __init__(self, fd: int, nonce: str) -> None:
        self._fd = fd
        self._nonce = nonce
        self._lock = threading.Lock()
        self._at_line_start = True

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def user(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self._write_all(data)
            self._at_line_start = data.endswith(b"\n")

    def event(self, **event: Any) -> None:
        with self._lock:
            inserted = not self._at_line_start
            line = marker(
                self._nonce, {"t": round(time.time(), 3), **event}, newline_inserted=inserted
            )
            self._write_all((b"\n" if inserted else b"") + line.encode())
            self._at_line_start = True


def _relay(pipe: int, log: _Log) -> None:
    """Copy the attempt's combined stdout and stderr into the log until every writer is gone."""
    try:
        while True:
            chunk = os.read(pipe, 65536)
            if not chunk:
                return
            log.user(chunk)
    finally:
        os.close(pipe)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """TERM the attempt's process group, then KILL whatever is left after ``grace`` seconds."""
    if not _signal_group(proc.pid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_alive(proc.pid):
            return
        time.sleep(_POLL)
    _signal_group(proc.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies waiting to be reaped by
    whoever adopted them do not count)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    if not entries:  # no procfs: ask the kernel, which counts zombies too
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


def _guard_group(pgid: int) -> subprocess.Popen[bytes] | None:
    """Start a watchdog inside the attempt's group that kills the group if the runner dies.

    The attempt has a group of its own so that a timeout can kill all of it; but when Ray's
    job supervisor dies it SIGKILLs only the runner's group, which would leave the attempt
    running with nobody to stop it. The watchdog, a member of the attempt's group, dies with
    it on every normal path.
    """
    watch = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; kill -KILL -{pgid}"
    try:
        return subprocess.Popen(
            ["/bin/sh", "-c", watch],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_in_group(pgid),
        )
    except (OSError, subprocess.SubprocessError):
        return None  # the attempt already ended and its group is gone: nothing to guard


#: Popen can start a child in a given process group by itself (Python 3.11+).
_POPEN_HAS_PROCESS_GROUP = "process_group" in inspect.signature(subprocess.Popen).parameters


def _in_group(pgid: int) -> dict[str, Any]:
    """Popen arguments that start the child in process group ``pgid`` (0: a new group).

    A new group, not a new session: the watchdog must be able to join the attempt's group,
    which only works within one session. (The runner is stdlib-only and runs on the
    cluster's Python, which may predate 3.11.)
    """
    if _POPEN_HAS_PROCESS_GROUP:
        return {"process_group": pgid}
    return {"preexec_fn": lambda: os.setpgid(0, pgid)}


class _StopRequestedError(Exception):
    """Ray asked the job to stop: the runner ends without starting anything new."""


class Runner:
    """Runs every task of one job, with its attempts, and reports them as markers."""

    def __init__(
        self, config: Mapping[str, Any], argv: Sequence[str], env: Mapping[str, str]
    ) -> None:
        self.job_id = str(config["job_id"])
        self.tasks = int(config.get("tasks", 1))
        self.retries = int(config.get("retries", 0))
        timeout = config.get("timeout")
        self.timeout = float(timeout) if timeout is not None else None
        self.gpus = int(config.get("gpus", 0))
        # The shipped workdir: Ray unpacks it, shared by every job with the same files, and
        # starts the runner in it ("."); each task runs in its own copy.
        workdir = config.get("workdir")
        self.workdir = os.path.abspath(str(workdir)) if workdir else None
        self.argv = list(argv)
        self.env = {k: v for k, v in env.items() if k != CONFIG_ENV}
        if self.gpus == 0:
            # Ray leaves CUDA_VISIBLE_DEVICES unset for jobs without GPUs, which shows them
            # every GPU of the node; a job that asked for none must see none.
            self.env["CUDA_VISIBLE_DEVICES"] = ""
        self.log = _Log(sys.stdout.fileno(), str(config["nonce"]))
        self.stop_requested = False
        self.proc: subprocess.Popen[bytes] | None = None

    def on_stop(self, _signum: int, _frame: object) -> None:
        # Only a flag: the main loop notices it within one poll, and raising here could
        # interrupt a marker half written.
        self.stop_requested = True

    def run(self) -> int:
        """Run every task; return the exit code of the first failed task, else 0."""
        self.log.event(
            event="begin",
            tasks=self.tasks,
            gpus=self.env.get("CUDA_VISIBLE_DEVICES", ""),
        )
        first_failure: int | None = None
        try:
            for index in range(self.tasks):
                failure = self.run_task(index)
                if failure is not None and first_failure is None:
                    first_failure = failure
        except _StopRequestedError:
            self.log.event(event="stopped")
            return 128 + signal.SIGTERM
        self.log.event(event="done", failed=first_failure is not None, exit_code=first_failure)
        if first_failure is None:
            return 0
        # Ray needs a non-zero exit to call the job FAILED (a timed-out command may exit 0).
        return first_failure if 0 < first_failure < 256 else 1

    def run_task(self, index: int) -> int | None:
        """Run one task's attempts; ``None`` when one succeeded, else the last exit code."""
        scratch = tempfile.mkdtemp(prefix=f"portacloud-{self.job_id}-{index}-")
        cwd = scratch
        try:
            if self.workdir is not None:
                shutil.copytree(self.workdir, scratch, symlinks=True, dirs_exist_ok=True)
            for attempt in range(1, self.retries + 2):
                if self.stop_requested:
                    raise _StopRequestedError(signal.SIGTERM)
                self.log.event(event="start", task=index, attempt=attempt)
                outcome, code, extra = self.run_attempt(index, attempt, cwd)
                self.log.event(
                    event="end",
                    task=index,
                    attempt=attempt,
                    outcome=outcome,
                    exit_code=code,
                    **extra,
                )
                if outcome == OUTCOME_CANCELLED:
                    raise _StopRequestedError(signal.SIGTERM)
                if outcome == OUTCOME_EXITED and code == 0:
                    return None
            return code
        finally:
            # Artifacts belong under PORTACLOUD_OUTPUT_URI; the scratch dir is not kept.
            shutil.rmtree(scratch, ignore_errors=True)

    def run_attempt(self, index: int, attempt: int, cwd: str) -> tuple[str, int, dict[str, Any]]:
        env = {
            **self.env,
            "PORTACLOUD_TASK_INDEX": str(index),
            "PORTACLOUD_ATTEMPT": str(attempt),
        }
        read_end, write_end = os.pipe()
        try:
            os.makedirs(cwd, exist_ok=True)
            proc = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                **_in_group(0),
            )
        except OSError as exc:
            os.close(read_end)
            os.close(write_end)
            self.log.user(f"portacloud: cannot start the command: {exc}\n".encode())
            return OUTCOME_EXITED, 127, {}
        os.close(write_end)
        self.proc = proc
        watchdog = _guard_group(proc.pid)
        relay = threading.Thread(target=_relay, args=(read_end, self.log), daemon=True)
        relay.start()
        try:
            outcome = self._wait(proc)
        finally:
            # Whatever the attempt left running in its group goes with it: a task's processes
            # end with the task, and the relay only sees end-of-file once they are gone.
            _kill_group(proc, _LEFTOVER_GRACE)
            proc.wait()
            if watchdog is not None:
                try:
                    watchdog.wait(timeout=_RELAY_JOIN)
                except subprocess.TimeoutExpired:
                    watchdog.kill()
            relay.join(_RELAY_JOIN)
            self.proc = None
        returncode = proc.returncode
        code = 128 - returncode if returncode < 0 else returncode
        if outcome is None:
            if returncode < 0:
                return OUTCOME_SIGNALLED, code, {"signal": -returncode}
            return OUTCOME_EXITED, code, {}
        return outcome, code, {}

    def _wait(self, proc: subprocess.Popen[bytes]) -> str | None:
        """Wait for the attempt; return ``None`` if it ended by itself, else why it was killed."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                proc.wait(timeout=_POLL)
            except subprocess.TimeoutExpired:
                pass
            else:
                return OUTCOME_CANCELLED if self.stop_requested and proc.returncode != 0 else None
            if self.stop_requested:
                _kill_group(proc, _STOP_GRACE)
                return OUTCOME_CANCELLED
            if deadline is not None and time.monotonic() >= deadline:
                _kill_group(proc, _TIMEOUT_GRACE)
                return OUTCOME_TIMEOUT


def run(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the job described by ``env[CONFIG_ENV]`` with ``argv`` (after ``--``) as the command."""
    args = list(argv)
    if args and args[0] == "--":
        args = args[1:]
    raw = env.get(CONFIG_ENV)
    if not raw or not args:
        sys.stderr.write(
            f"usage: {CONFIG_ENV}=JSON python -m portacloud_ray.runner -- COMMAND...\n"
        )
        return 2
    runner = Runner(json.loads(raw), args, env)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, runner.on_stop)
    return runner.run()


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], os.environ))

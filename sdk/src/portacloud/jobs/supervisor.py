"""One ``local://`` task, supervised: ``python -m portacloud.jobs.supervisor DB JOB_ID INDEX``.

The supervisor waits for the task's GPUs, runs each attempt in its own process group with
exactly those GPUs in ``CUDA_VISIBLE_DEVICES``, kills the whole group on timeout or cancel,
retries failed attempts, records every transition in the queue's database, and always gives
the GPUs back.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

from portacloud.jobs.containers import container_command, task_argv
from portacloud.jobs.image_failures import image_failure
from portacloud.jobs.local_store import LocalJobStore
from portacloud.jobs.models import JobReason, JobSpec, JobState
from portacloud.private_files import open_private, private_dir

_POLL = 0.1
_GRACE = 5.0


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the attempt's whole process group, then KILL whatever is left after a grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_GRACE)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children may outlive a leader that obeyed TERM


def shipped_workdir(root: Path, job_id: str) -> Path:
    """Where the ``local://`` queue rooted at ``root`` keeps the copy of a job's ``workdir``."""
    return root / "work" / job_id / "workdir"


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


class _Supervisor:
    def __init__(self, db: Path, job_id: str, idx: int) -> None:
        self.store = LocalJobStore(db)
        self.job_id = job_id
        self.idx = idx
        self.spec, self.env = self.store.job_spec(job_id)
        root = db.parent
        self.log_path = private_dir(root / "logs" / job_id) / f"task-{idx}.log"
        self.root = root
        self.workdir = root / "work" / job_id / f"task-{idx}"
        self.proc: subprocess.Popen[bytes] | None = None

    def prepare_workdir(self) -> None:
        """Give the task its sandbox: a copy of the shipped ``workdir``, else an empty one.

        Every task gets its own copy, so tasks of an array never see each other's files.
        """
        private_dir(self.workdir.parent)
        shipped = shipped_workdir(self.root, self.job_id)
        if self.spec.workdir is not None and shipped.is_dir():
            shutil.copytree(shipped, self.workdir, symlinks=True, dirs_exist_ok=True)
        # The copy keeps the user's modes inside; the task's own directory is closed off.
        private_dir(self.workdir)

    def finish(self, state: JobState, reason: JobReason | None, exit_code: int | None) -> None:
        self.store.update_task(
            self.job_id,
            self.idx,
            state=state,
            reason=reason,
            exit_code=exit_code,
            ended_at=time.time(),
            pgid=None,
        )

    def wait_for_gpus(self) -> list[int] | None:
        inventory = self.store.inventory()
        while True:
            if self.store.cancel_requested(self.job_id):
                self.finish(JobState.CANCELLED, JobReason.USER_CANCELLED, None)
                return None
            gpus = self.store.try_allocate(
                self.job_id, self.idx, self.spec.resources.gpu_count, inventory
            )
            if gpus is not None:
                return gpus
            time.sleep(0.2)

    def run(self) -> None:
        self.store.update_task(self.job_id, self.idx, supervisor_pid=os.getpid())
        self.prepare_workdir()
        gpus = self.wait_for_gpus()
        if gpus is None:
            return
        try:
            self.attempts(gpus)
        finally:
            self.store.release(self.job_id, self.idx)

    def attempts(self, gpus: list[int]) -> None:
        spec: JobSpec = self.spec
        for attempt in range(1, spec.retries + 2):
            fields: dict[str, object] = {"state": JobState.STARTING, "attempt": attempt}
            if attempt == 1:
                fields["started_at"] = time.time()
            self.store.update_task(self.job_id, self.idx, **fields)
            outcome, code = self.attempt(gpus, attempt)
            if outcome == "cancelled":
                self.finish(JobState.CANCELLED, JobReason.USER_CANCELLED, code)
                return
            if outcome == "exited" and code == 0:
                self.finish(JobState.SUCCEEDED, None, 0)
                return
            if attempt <= spec.retries:
                continue
            if outcome == "timeout":
                self.finish(JobState.FAILED, JobReason.TIMEOUT, code)
            elif code == 128 + signal.SIGKILL:
                # Nothing of ours sent SIGKILL: on Linux that is the OOM killer's signature.
                self.finish(JobState.FAILED, JobReason.OOM, code)
            elif (why := image_failure(spec.image, code)) is not None:
                self.store.note(self.job_id, why)
                self.finish(JobState.FAILED, JobReason.INFRA_ERROR, code)
            else:
                self.finish(JobState.FAILED, JobReason.USER_ERROR, code)

    def argv(self) -> list[str]:
        """The task's command; for an image, the podman wrapper that runs it inside."""
        spec = self.spec
        if spec.image is None:
            return task_argv(spec.command)
        return container_command(
            spec.image,
            spec.command,
            env_names=spec.env,
            output_uri=self.env.get("PORTACLOUD_OUTPUT_URI"),
            timeout=spec.timeout,
        )

    def attempt(self, gpus: list[int], attempt: int) -> tuple[str, int]:
        spec = self.spec
        env = {
            **os.environ,
            **self.env,
            "PORTACLOUD_JOB_ID": self.job_id,
            "PORTACLOUD_TASK_INDEX": str(self.idx),
            "PORTACLOUD_ATTEMPT": str(attempt),
            "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in gpus),
        }
        argv = self.argv()
        with open_private(self.log_path, "ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                log.write(f"portacloud: cannot start the command: {exc}\n".encode())
                return "exited", 127
        self.proc = proc
        self.store.update_task(self.job_id, self.idx, state=JobState.RUNNING, pgid=proc.pid)
        deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
        while True:
            try:
                code = _exit_code(proc.wait(timeout=_POLL))
            except subprocess.TimeoutExpired:
                pass
            else:
                # cancel() signals the group directly; a death it caused is a cancellation.
                if code != 0 and self.store.cancel_requested(self.job_id):
                    _kill_group(proc)
                    return "cancelled", code
                return "exited", code
            if deadline is not None and time.monotonic() >= deadline:
                _kill_group(proc)
                return "timeout", _exit_code(proc.wait())
            if self.store.cancel_requested(self.job_id):
                _kill_group(proc)
                return "cancelled", _exit_code(proc.wait())


def main(argv: list[str]) -> None:
    """Run one task to its end; a TERM sent to the supervisor fails the task as INFRA_ERROR."""
    db, job_id, idx = Path(argv[0]), argv[1], int(argv[2])
    supervisor = _Supervisor(db, job_id, idx)

    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        supervisor.run()
    except BaseException:
        if supervisor.proc is not None and supervisor.proc.poll() is None:
            _kill_group(supervisor.proc)
        supervisor.store.finish_task_if_active(
            job_id, idx, JobReason.INFRA_ERROR, "the local supervisor stopped before the task ended"
        )
        raise


if __name__ == "__main__":
    main(sys.argv[1:])

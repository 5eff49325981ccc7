"""``local://[name]``: jobs as supervised subprocesses on this machine.

State lives in ``$PORTACLOUD_HOME/jobs/<name>/jobs.db``, so every process (the program that
submitted, the CLI, the supervisors) sees the same jobs. ``local://?gpus=N`` declares a fake
inventory of N GPUs for tests; otherwise the inventory is read from NVML or nvidia-smi.
"""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult

from portacloud.errors import InvalidArgumentError, PortaCloudError
from portacloud.jobs.containers import container_runtimes
from portacloud.jobs.gpus import detect_gpus, gpu_name_matches
from portacloud.jobs.local_store import STARTUP_GRACE, LocalJobStore, pid_alive
from portacloud.jobs.logfiles import TaskLogFiles
from portacloud.jobs.models import JobCapabilities, JobReason, JobSpec, JobStatus
from portacloud.jobs.supervisor import shipped_workdir
from portacloud.jobs.workdir import scan_workdir, stage_workdir
from portacloud.private_files import (
    is_private_dir,
    open_private,
    private_dir,
    private_tree,
    state_dir,
)
from portacloud.providerkit.options import reject_unknown_options

__all__ = ["LocalJobDriver", "open_local_jobs"]

_CAPABILITIES = JobCapabilities(
    gpu_types=True,
    delete=True,
    workdir=True,
    task_logs=True,
    notes=(
        "CPU and memory requests are checked against the machine, not reserved",
        "GPUs are allocated exclusively through CUDA_VISIBLE_DEVICES",
        "workdir is copied at submit; each task runs in its own copy of it",
        "images run with podman, found on this machine's PATH when the queue is opened",
    ),
)


class LocalJobDriver(TaskLogFiles):
    """Runs each task under ``python -m portacloud.jobs.supervisor``."""

    provider = "local"
    capabilities = _CAPABILITIES

    def __init__(self, name: str, *, fake_gpus: int | None, gpu_type: str | None) -> None:
        self.root = state_dir("jobs", name)
        logs = self.root / "logs"
        if logs.is_dir() and not is_private_dir(logs):
            # Logs an older version left readable: once, every file (work dirs are the jobs'
            # own files; their closed parent is enough).
            private_tree(logs)
        private_dir(logs)
        private_dir(self.root / "work")
        self.store = LocalJobStore(self.root / "jobs.db")
        if fake_gpus is not None:
            self.inventory = [(i, gpu_type or "fake") for i in range(fake_gpus)]
        else:
            self.inventory = detect_gpus()
        self.store.set_inventory([i for i, _ in self.inventory])
        runtimes = container_runtimes()
        self.capabilities = _CAPABILITIES.model_copy(
            update={
                "max_gpus_per_job": len(self.inventory),
                "images": bool(runtimes),
                "container_runtimes": runtimes,
            }
        )

    def _never_fits(self, spec: JobSpec) -> str | None:
        res = spec.resources
        if res.gpu_count > len(self.inventory):
            return f"asks for {res.gpu_count} GPU(s); this machine has {len(self.inventory)}"
        wanted = res.gpu_type
        if wanted and res.gpu_count:
            matching = [n for _, n in self.inventory if n == "fake" or gpu_name_matches(wanted, n)]
            if len(matching) < res.gpu_count:
                names = ", ".join(sorted({n for _, n in self.inventory})) or "none"
                return f"asks for {res.gpu_count} {wanted} GPU(s); this machine has {names}"
        cpus = os.cpu_count() or 1
        if res.cpus is not None and res.cpus > cpus:
            return f"asks for {res.cpus:g} CPUs; this machine has {cpus}"
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        if res.memory_gb is not None and res.memory_gb > memory_gb:
            return f"asks for {res.memory_gb:g} GiB; this machine has {memory_gb:.1f} GiB"
        return None

    def submit(self, spec: JobSpec, *, env: Mapping[str, str], output_uri: str) -> str:
        job_id = f"{spec.name}-{uuid.uuid4().hex[:10]}"
        why = self._never_fits(spec)
        failed = (JobReason.NO_CAPACITY, why) if why else None
        if spec.workdir is not None and failed is None:
            self._ship_workdir(Path(spec.workdir), job_id)
        self.store.create(job_id, spec, env=dict(env), output_uri=output_uri, failed=failed)
        if failed is None:
            for idx in range(spec.tasks):
                self._spawn(job_id, idx)
        return job_id

    def _ship_workdir(self, source: Path, job_id: str) -> None:
        """Copy ``source`` now, as Ray uploads a working_dir: edits made to it after submit,
        while the job waits for GPUs, do not leak into the job."""
        target = shipped_workdir(self.root, job_id)
        try:
            stage_workdir(scan_workdir(source), target, links="keep")
            private_dir(target)
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise InvalidArgumentError(
                f"cannot copy workdir {str(source)!r}: {exc}", resource=job_id
            ) from exc

    def _spawn(self, job_id: str, idx: int) -> None:
        # The child keeps its own copy of the descriptor; this process needs none.
        with open_private(self._supervisor_log(job_id), "ab") as supervisor_log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "portacloud.jobs.supervisor",
                    str(self.store.path),
                    job_id,
                    str(idx),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=supervisor_log,
                start_new_session=True,  # outlives this process, as a queue must
            )
        # Reap it when it ends so it never lingers as a zombie of a long-lived caller.
        threading.Thread(target=proc.wait, daemon=True).start()

    def _supervisor_log(self, job_id: str) -> Path:
        return private_dir(self.root / "logs" / job_id) / "supervisor.log"

    def status(self, job_id: str) -> JobStatus:
        self._reap_lost(job_id)
        return self.store.status(job_id)

    def _reap_lost(self, job_id: str) -> None:
        """Fail tasks whose supervisor died without recording an end (kill -9, reboot)."""
        status = self.store.status(job_id)
        if status.state.terminal:
            return
        age = time.time() - (status.submitted_at.timestamp() if status.submitted_at else 0)
        for task in self.store.tasks(job_id):
            if task.state.terminal:
                continue
            lost = (task.supervisor_pid is not None and not pid_alive(task.supervisor_pid)) or (
                task.supervisor_pid is None and age > STARTUP_GRACE
            )
            if lost:
                self.store.finish_task_if_active(
                    job_id, task.idx, JobReason.INFRA_ERROR, "the local supervisor is gone"
                )

    def list(self) -> builtins.list[JobStatus]:
        return [self.status(job_id) for job_id in self.store.job_ids()]

    def _log_files(self, job_id: str) -> builtins.list[Path]:
        self.store.status(job_id)  # NOT_FOUND for unknown ids
        tasks = len(self.store.tasks(job_id))
        return [self.root / "logs" / job_id / f"task-{i}.log" for i in range(tasks)]

    def _log_ended(self, job_id: str) -> bool:
        return self.status(job_id).state.terminal

    def cancel(self, job_id: str) -> None:
        import signal

        for task in self.store.request_cancel(job_id):
            if task.pgid and not task.state.terminal:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(task.pgid, signal.SIGTERM)  # the supervisor escalates to KILL

    def delete(self, job_id: str) -> None:
        self._reap_lost(job_id)  # a task whose supervisor died counts as ended
        self.store.delete(job_id)
        for area in ("logs", "work"):
            shutil.rmtree(self.root / area / job_id, ignore_errors=True)

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return None

    def native(self) -> object | None:
        return self.store

    def close(self) -> None:
        """Nothing to release: jobs run on after the queue is closed."""


def open_local_jobs(url: SplitResult, options: Mapping[str, Any]) -> LocalJobDriver:
    """Open ``local://[name]?gpus=N&gpu_type=T`` (default name ``default``)."""
    reject_unknown_options("local", options, allowed=("gpus", "gpu_type"))
    name = url.netloc or "default"
    if url.path not in ("", "/"):
        raise InvalidArgumentError("local:// queues take a name only: local://NAME?gpus=N")
    gpus = options.get("gpus")
    fake: int | None = None
    if gpus is not None:
        try:
            fake = int(str(gpus))
        except ValueError:
            raise InvalidArgumentError(f"gpus={gpus!r}: a count of fake GPUs") from None
        if not 0 <= fake <= 64:
            raise InvalidArgumentError("gpus must be between 0 and 64")
    gpu_type = options.get("gpu_type")
    return LocalJobDriver(name, fake_gpus=fake, gpu_type=str(gpu_type) if gpu_type else None)

"""The ``local://`` replica launcher: each replica a subprocess in its own process group.

A replica with an ``image`` runs under podman exactly as an image job does (the wrapper of
:mod:`portacloud.jobs.containers`), on the host's network.

Replicas listen on a free port the launcher picks (``$PORT``) and get GPUs from the same
allocation table as ``local://`` jobs of the same queue (``jobs/NAME/jobs.db``), so a service
and a job never share a GPU. A token is ``PID:STARTTIME`` (the kernel's start time of the
process), so a restarted controller can tell its replica from an unrelated process that got
the same pid.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
from contextlib import suppress
from pathlib import Path

from portacloud.jobs.containers import container_command, task_argv
from portacloud.jobs.local_store import LocalJobStore
from portacloud.private_files import open_private
from portacloud.services.launcher import Launched, LaunchState, ReplicaPlan
from portacloud.services.placement import Placement
from portacloud.services.processes import process_token, stop_group, token_alive

__all__ = ["LocalLauncher", "free_port", "gpu_owner", "make_launcher"]


def gpu_owner(service_dir: Path, replica: str) -> str:
    """The owner name a replica's GPUs are recorded under in the jobs' allocation table."""
    return f"service:{service_dir}/{replica}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the replica binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalLauncher:
    """Starts replicas as local subprocesses; places them on free ports and free GPUs.

    Args:
        service_dir: The service's state directory (names its GPU allocations).
        gpu_db: The ``local://`` queue database whose GPU table replicas allocate from, or
            ``None`` when no replica asks for GPUs.
        host: The address replicas are reached on.
    """

    def __init__(self, *, service_dir: Path, gpu_db: Path | None, host: str = "127.0.0.1"):
        self._dir = service_dir
        self._store = LocalJobStore(gpu_db) if gpu_db is not None else None
        self._host = host
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def place(self, replica: str, gpus: int) -> Placement | None:
        """A free port and ``gpus`` free GPUs for ``replica``, or ``None`` to wait for GPUs."""
        chosen: list[int] = []
        if gpus:
            if self._store is None:
                return None
            taken = self._store.try_allocate(
                gpu_owner(self._dir, replica), 0, gpus, self._store.inventory()
            )
            if taken is None:
                return None
            chosen = taken
        return Placement(port=free_port(self._host), gpus=tuple(chosen))

    def release(self, replica: str) -> None:
        """Give the replica's GPUs back."""
        if self._store is not None:
            self._store.release(gpu_owner(self._dir, replica), 0)

    def start(self, plan: ReplicaPlan) -> str:
        """Run the spec's command in ``plan.workdir``, in a new session, logging to a file.

        An image runs through the jobs' podman wrapper (:func:`container_command`): host
        network (so ``$PORT`` is the replica's port), the workdir bind-mounted, the spec's
        variables and the replica's own passed by name, GPUs as CDI devices.
        """
        env = {
            **os.environ,
            **plan.env,
            "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in plan.gpus),
        }
        argv = task_argv(plan.spec.command)
        if plan.spec.image is not None:
            argv = container_command(
                plan.spec.image,
                plan.spec.command,
                env_names=plan.env,
                output_uri=None,
                timeout=None,
            )
            # The wrapper names the container after this: one name per replica, so a start
            # replaces a container its previous start left behind, never another replica's.
            digest = hashlib.sha256(str(self._dir).encode()).hexdigest()[:8]
            env["PORTACLOUD_JOB_ID"] = f"svc-{digest}-{plan.replica}"
        with open_private(plan.log_path, "ab") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=plan.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: stop() kills its children too
                )
            except OSError as exc:
                log.write(f"portacloud: cannot start the command: {exc}\n".encode())
                return "0:?"
        token = process_token(proc.pid)
        self._children[token] = proc
        return token

    def poll(self, token: str, plan: ReplicaPlan) -> Launched:
        """RUNNING while the process lives; EXITED with its code (when it is our child)."""
        url = f"http://{self._host}:{plan.port}" if plan.port else None
        proc = self._children.get(token)
        if proc is not None:
            code = proc.poll()
            if code is None:
                return Launched(state=LaunchState.RUNNING, url=url)
            del self._children[token]
            # What the replica left in its group (workers of a server whose master died)
            # would hold its GPUs and files: the group goes with its leader.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            code = 128 - code if code < 0 else code
            return Launched(state=LaunchState.EXITED, url=url, exit_code=code)
        if token.startswith("0:") or not token_alive(token):
            return Launched(state=LaunchState.EXITED, url=url)
        return Launched(state=LaunchState.RUNNING, url=url)

    def stop(self, token: str, *, grace: float) -> None:
        """TERM the replica's process group, then KILL what is left after ``grace``."""
        stop_group(token, grace=grace, proc=self._children.pop(token, None))


def make_launcher(service_dir: Path, options: dict[str, object]) -> LocalLauncher:
    """The launcher the controller runs with ``--launcher local``.

    Options: ``gpu_db`` (the queue database path), ``host``.
    """
    gpu_db = options.get("gpu_db")
    return LocalLauncher(
        service_dir=service_dir,
        gpu_db=Path(str(gpu_db)) if gpu_db else None,
        host=str(options.get("host", "127.0.0.1")),
    )

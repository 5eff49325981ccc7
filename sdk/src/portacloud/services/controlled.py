"""A service driver that runs one :mod:`~portacloud.services.controller` process per service.

``local://`` and ``slurm://`` share it: a subclass says where service state lives, which
launcher the controller runs with (a name and JSON options) and what the backend can never
run. Each service has its own directory ``ROOT/NAME`` (see
:mod:`~portacloud.services.controller_state`); the driver writes ``desired.json``, starts the
controller in a new session (so the service outlives this process), reads ``status.json``,
starts a controller again if one died, and on delete tears the service down itself when the
controller cannot.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from portacloud.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
)
from portacloud.jobs.workdir import scan_workdir, stage_workdir
from portacloud.private_files import open_private, private_dir
from portacloud.services.controller import load_launcher, teardown
from portacloud.services.controller_state import (
    DESIRED_FILE,
    PID_FILE,
    STATUS_FILE,
    Desired,
    ensure_dirs,
    read_desired,
    shipped_dir,
)
from portacloud.services.models import ServiceCapabilities, ServiceSpec, ServiceState, ServiceStatus
from portacloud.services.processes import process_token, stop_group, token_alive
from portacloud.services.router import write_json
from portacloud.services.service_logs import follow_service_logs, read_service_logs

__all__ = ["ControlledServiceDriver"]


class ControlledServiceDriver:
    """The driver half of controller-run services.

    Args:
        root: The directory holding one sub-directory per service.
        launcher: The controller's ``--launcher`` (``local`` or ``MODULE:FACTORY``).
        launcher_options: The controller's ``--launcher-options``.
        controller_args: Extra controller arguments (``--router-host``, ``--drain-grace``).
        delete_timeout: How long ``delete`` waits for the controller before tearing down
            the service itself.
    """

    provider = "controlled"
    capabilities = ServiceCapabilities()

    def __init__(
        self,
        root: Path,
        *,
        launcher: str,
        launcher_options: dict[str, Any],
        controller_args: tuple[str, ...] = (),
        delete_timeout: float = 60.0,
    ) -> None:
        self.root = private_dir(root)
        self._launcher = launcher
        self._launcher_options = launcher_options
        self._controller_args = controller_args
        self._delete_timeout = delete_timeout

    # ------------------------------------------------------------------ subclass hooks

    def _never_runs(self, spec: ServiceSpec) -> str | None:
        """Why the backend can never run ``spec`` (too many GPUs), or ``None``."""
        return None

    # ------------------------------------------------------------------ helpers

    def _check_runs(self, spec: ServiceSpec) -> None:
        why = self._never_runs(spec)
        if why is not None:
            raise InvalidArgumentError(
                f"service {spec.name!r} {why}", provider=self.provider, resource=spec.name
            )

    def _dir(self, name: str) -> Path:
        return self.root / name

    def _known(self, name: str) -> Path:
        path = self._dir(name)
        if not (path / DESIRED_FILE).is_file():
            raise NotFoundError(f"no service named {name!r}", provider=self.provider, resource=name)
        return path

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """Serialise read-modify-writes of ``desired.json`` between clients."""
        with open(path / "desired.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _write_desired(self, path: Path, desired: Desired) -> None:
        write_json(path / DESIRED_FILE, desired.model_dump(mode="json"))

    def _ship(self, path: Path, spec: ServiceSpec, version: int) -> None:
        if spec.workdir is None:
            return
        target = shipped_dir(path, version)
        shutil.rmtree(target, ignore_errors=True)
        try:
            stage_workdir(scan_workdir(spec.workdir), target, links="keep")
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise InvalidArgumentError(
                f"cannot copy workdir {spec.workdir!r}: {exc}", resource=spec.name
            ) from exc

    def _controller_alive(self, path: Path) -> bool:
        try:
            token = (path / PID_FILE).read_text().strip()
        except FileNotFoundError:
            return False
        return bool(token) and token_alive(token)

    def _spawn(self, path: Path) -> None:
        argv = [sys.executable, "-m", "portacloud.services.controller", "--state", str(path)]
        argv += ["--launcher", self._launcher]
        argv += ["--launcher-options", json.dumps(self._launcher_options)]
        argv += list(self._controller_args)
        with open_private(path / "logs" / "controller.log", "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the service outlives the process that deployed it
            )
        (path / PID_FILE).write_text(process_token(proc.pid))
        # Reap it when it ends so it never lingers as a zombie of a long-lived caller.
        threading.Thread(target=proc.wait, daemon=True).start()

    def _read_status(self, path: Path, desired: Desired) -> ServiceStatus:
        try:
            status = ServiceStatus.model_validate_json((path / STATUS_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return ServiceStatus(
                name=desired.spec.name,
                state=ServiceState.PENDING,
                version=desired.version,
                desired_replicas=desired.replicas,
                spec=desired.spec,
            )
        behind = (status.version, status.desired_replicas) != (desired.version, desired.replicas)
        if behind and status.state is not ServiceState.STOPPED and not desired.deleted:
            # Written before the controller saw the last change: never READY on old news.
            changes = {
                "state": ServiceState.UPDATING,
                "reason": "the controller is applying the change",
                "version": desired.version,
                "desired_replicas": desired.replicas,
                "spec": desired.spec,
            }
            status = status.model_copy(update=changes)
        return status

    # ------------------------------------------------------------------ the Protocol

    def deploy(self, spec: ServiceSpec) -> ServiceStatus:
        """Write the service's ``desired.json`` and start its controller."""
        self._check_runs(spec)
        path = self._dir(spec.name)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            raise AlreadyExistsError(
                f"a service named {spec.name!r} exists; update it or delete it first",
                provider=self.provider,
                resource=spec.name,
            ) from None
        try:
            ensure_dirs(path)
            self._ship(path, spec, 1)
            desired = Desired(spec=spec, replicas=spec.initial_replicas, created_at=time.time())
            self._write_desired(path, desired)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        self._spawn(path)
        return self._read_status(path, desired)

    def update(self, spec: ServiceSpec) -> ServiceStatus:
        """Write version + 1 with ``spec``; the controller rolls onto it."""
        self._check_runs(spec)
        path = self._known(spec.name)
        with self._locked(path):
            current = read_desired(path)
            version = current.version + 1
            self._ship(path, spec, version)
            changes = {"spec": spec, "version": version, "replicas": spec.initial_replicas}
            self._write_desired(path, current.model_copy(update=changes))
        return self.get(spec.name)

    def scale(self, name: str, replicas: int) -> ServiceStatus:
        """Write the new replica count."""
        path = self._known(name)
        with self._locked(path):
            current = read_desired(path)
            self._check_runs(current.spec.model_copy(update={"replicas": replicas}))
            self._write_desired(path, current.model_copy(update={"replicas": replicas}))
        return self.get(name)

    def get(self, name: str) -> ServiceStatus:
        """The controller's last status; a dead controller is started again (it adopts)."""
        path = self._known(name)
        desired = read_desired(path)
        if not desired.deleted and not self._controller_alive(path):
            self._spawn(path)
        return self._read_status(path, desired)

    def list(self) -> builtins.list[ServiceStatus]:
        """Every service under the root, by name."""
        found = []
        for path in sorted(self.root.iterdir()):
            with suppress(NotFoundError):
                found.append(self.get(path.name))
        return found

    def delete(self, name: str) -> None:
        """Ask the controller to stop everything; do it here if it cannot; forget the service."""
        path = self._known(name)
        with self._locked(path):
            current = read_desired(path)
            self._write_desired(path, current.model_copy(update={"deleted": True}))
        deadline = time.monotonic() + self._delete_timeout
        while self._controller_alive(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        with suppress(FileNotFoundError):
            token = (path / PID_FILE).read_text().strip()
            if token:
                stop_group(token, grace=1.0)  # stuck past the deadline: it must not race us
        # Whatever the controller left (it was killed, or stuck) is stopped from its records.
        launcher = load_launcher(self._launcher, path, self._launcher_options)
        teardown(path, launcher, stop_grace=5.0)
        shutil.rmtree(path, ignore_errors=True)

    def logs(self, name: str, replica: str | None) -> str:
        """Every replica's log (lines prefixed ``[REPLICA] ``), or one replica's."""
        return read_service_logs(self._known(name), replica, service=name)

    def follow_logs(self, name: str, replica: str | None) -> Iterator[str]:
        """New log text as it is written, until the service is deleted."""
        return follow_service_logs(self._known(name), replica, service=name)

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Nothing native to translate: the driver only reads and writes files."""
        return None

    def native(self) -> object | None:
        """The state directory root."""
        return self.root

    def close(self) -> None:
        """Nothing to release: services run on after the driver is closed."""

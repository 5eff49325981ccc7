"""``local://[name]`` instances: supervised sandboxes on this machine.

An instance is a working directory under ``$PORTACLOUD_HOME/compute/<name>/<id>/`` and a
process group led by ``python -m portacloud.compute.sandbox``. Stopping sends SIGSTOP to the
group, starting SIGCONT, terminating SIGTERM then SIGKILL. Records stay after termination, as
clouds keep terminated instances visible for a while, so terminating twice is not an error.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portacloud.compute.driver import LaunchRequest
from portacloud.compute.models import ComputeCapabilities, Instance, InstanceState
from portacloud.errors import FailedPreconditionError, NotFoundError, PortaCloudError
from portacloud.private_files import open_private, private_dir, state_dir

__all__ = ["LocalComputeDriver"]

_CAPABILITIES = ComputeCapabilities(
    spot=False,
    ssh_keys=False,
    catalog="local",
    notes=(
        "an instance is a process group and a working directory on this machine",
        "stopped instances are SIGSTOPped: they hold no CPU, so billing is false",
    ),
)

# The one table from what the sandbox looks like to what a cloud would report.
_STATES: dict[str, tuple[InstanceState, bool]] = {
    "running": (InstanceState.RUNNING, True),
    "stopped": (InstanceState.STOPPED, False),
    "terminated": (InstanceState.TERMINATED, False),
    "starting": (InstanceState.PENDING, True),
    "lost": (InstanceState.ERROR, False),
}


def _process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else state


class LocalComputeDriver:
    """Sandboxes as instances; see the module docstring."""

    provider = "local"
    capabilities = _CAPABILITIES

    def __init__(self, name: str) -> None:
        self.region = "local"
        self.root = state_dir("compute", name)
        self._lock = threading.Lock()

    def _record_path(self, instance_id: str) -> Path:
        if not instance_id.startswith("i-") or "/" in instance_id or ".." in instance_id:
            raise NotFoundError("no such instance", resource=instance_id)
        return self.root / instance_id / "instance.json"

    def _load(self, instance_id: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._record_path(instance_id).read_text())
        except FileNotFoundError:
            raise NotFoundError("no such instance", resource=instance_id) from None
        return data

    def _save(self, record: dict[str, Any]) -> None:
        path = self._record_path(record["id"])
        tmp = path.with_suffix(".tmp")
        with open_private(tmp, "wb") as out:
            out.write(json.dumps(record).encode())
        os.replace(tmp, path)

    def _observed(self, record: dict[str, Any]) -> str:
        """What the sandbox is doing now, whatever the record says."""
        if record["status"] == "terminated":
            return "terminated"
        state = _process_state(record["pid"])
        if state is None:
            return "lost"
        if state == "T":
            return "stopped"
        if not (self.root / record["id"] / "sandbox" / "ready").exists():
            return "starting"
        return "running"

    def _instance(self, record: dict[str, Any]) -> Instance:
        state, billing = _STATES[self._observed(record)]
        return Instance(
            id=record["id"],
            name=record["name"],
            state=state,
            billing=billing,
            instance_type=record["instance_type"],
            region=self.region,
            image=record["image"],
            tags=record["tags"],
            created_at=datetime.fromisoformat(record["created_at"]),
            private_ip="127.0.0.1",
            provider=self.provider,
        )

    def create(self, request: LaunchRequest) -> Instance:
        instance_id = f"i-{uuid.uuid4().hex[:17]}"
        sandbox = private_dir(self.root / instance_id / "sandbox")
        proc = subprocess.Popen(
            [sys.executable, "-m", "portacloud.compute.sandbox", str(sandbox)],
            cwd=sandbox,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        threading.Thread(target=proc.wait, daemon=True).start()
        record = {
            "id": instance_id,
            "name": request.name,
            "instance_type": request.instance_type,
            "image": request.image,
            "tags": {"Name": request.name, **request.tags},
            "created_at": datetime.now(UTC).isoformat(),
            "pid": proc.pid,
            "status": "active",
        }
        self._save(record)
        return self._instance(record)

    def get(self, instance_id: str) -> Instance:
        return self._instance(self._load(instance_id))

    def list(self, tags: Mapping[str, str]) -> builtins.list[Instance]:
        found = []
        for path in sorted(self.root.glob("i-*/instance.json")):
            with suppress(FileNotFoundError, json.JSONDecodeError):
                record = json.loads(path.read_text())
                if all(record["tags"].get(k) == v for k, v in tags.items()):
                    found.append(self._instance(record))
        return found

    def _signal(self, record: dict[str, Any], sig: signal.Signals) -> None:
        try:
            os.killpg(record["pid"], sig)
        except ProcessLookupError:
            raise FailedPreconditionError(
                "the sandbox process is gone (state ERROR)", resource=record["id"]
            ) from None

    def _signal_live(self, instance_id: str, sig: signal.Signals, verb: str) -> dict[str, Any]:
        """Send ``sig`` to a sandbox that still exists; FAILED_PRECONDITION for one that is
        gone."""
        with self._lock:
            record = self._load(instance_id)
            observed = self._observed(record)
            if observed in ("terminated", "lost"):
                raise FailedPreconditionError(
                    f"cannot {verb} a {observed} instance", resource=instance_id
                )
            self._signal(record, sig)
        return record

    def start(self, instance_id: str) -> Instance:
        self._signal_live(instance_id, signal.SIGCONT, "start")
        return self.get(instance_id)

    def stop(self, instance_id: str) -> Instance:
        record = self._signal_live(instance_id, signal.SIGSTOP, "stop")
        deadline = time.monotonic() + 5
        while _process_state(record["pid"]) not in ("T", None) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.get(instance_id)

    def terminate(self, instance_id: str) -> Instance:
        with self._lock:
            record = self._load(instance_id)
            if record["status"] != "terminated":
                pid = record["pid"]
                with suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGCONT)  # a stopped group cannot act on TERM
                    os.killpg(pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while _process_state(pid) is not None and time.monotonic() < deadline:
                    time.sleep(0.02)
                with suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                record["status"] = "terminated"
                self._save(record)
        return self._instance(record)

    def resolve_image(self, image: str) -> str:
        return image  # the sandbox runs on this machine's own system, whatever the name

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return None

    def native(self) -> object | None:
        return self.root

    def close(self) -> None:
        """Nothing to release: sandboxes outlive the handle, as instances do."""

"""``local://[name]``: services as supervised subprocesses on this machine.

Each service gets a controller process (:mod:`portacloud.services.controller`) with the
local launcher; state lives in ``$PORTACLOUD_HOME/services/<name>/<service>/``. Replicas take
GPUs from the same table as the jobs of ``local://<name>`` (``jobs/<name>/jobs.db``), so
``local://?gpus=N`` declares the same fake inventory of N GPUs for tests as for jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult

from portacloud.jobs.models import JobSpec
from portacloud.private_files import state_dir
from portacloud.providers.local_jobs import LocalJobDriver, open_local_jobs
from portacloud.services.controlled import ControlledServiceDriver
from portacloud.services.models import ServiceCapabilities, ServiceSpec

__all__ = ["LocalServiceDriver", "open_local_services"]

_CAPABILITIES = ServiceCapabilities(
    gpus=True,
    gpu_types=True,
    images=False,
    workdir=True,
    autoscaling=False,
    rolling_update=True,
    restarts=True,
    replica_logs=True,
    follow_logs=True,
    max_replicas=100,
    outlives_client=True,
    endpoint="portacloud router",
    notes=(
        "replicas are subprocesses on free ports of 127.0.0.1, each in its own process group",
        "GPUs are allocated exclusively through CUDA_VISIBLE_DEVICES, shared with local jobs",
        "workdir is copied at deploy and update; each replica runs in its own copy",
        "CPU and memory requests are checked against the machine, not reserved",
        "images run with podman on the host network, found on PATH when the backend is opened",
    ),
)


class LocalServiceDriver(ControlledServiceDriver):
    """Services of one ``local://`` queue, each run by its own controller process.

    Args:
        name: The queue's name (``local://NAME``); its jobs share the GPU inventory.
        jobs: The queue's job driver (its GPU inventory and allocation table).
    """

    provider = "local"
    capabilities = _CAPABILITIES

    def __init__(self, name: str, jobs: LocalJobDriver) -> None:
        super().__init__(
            state_dir("services", name),
            launcher="local",
            launcher_options={"gpu_db": str(jobs.store.path)},
        )
        self._jobs = jobs
        gpus = len(jobs.inventory)
        images = "podman" in jobs.capabilities.container_runtimes
        self.capabilities = _CAPABILITIES.model_copy(update={"gpus": gpus > 0, "images": images})

    def _never_runs(self, spec: ServiceSpec) -> str | None:
        # The jobs' own rule for one replica, then all replicas at once: a service whose
        # replicas can never all hold their GPUs together would wait forever.
        one = JobSpec(name=spec.name, command=spec.command, resources=spec.resources)
        why = self._jobs._never_fits(one)  # the same queue's rule, not a copy of it
        if why is not None:
            return why
        total = spec.resources.gpu_count * spec.initial_replicas
        if total > len(self._jobs.inventory):
            return (
                f"asks for {total} GPU(s) ({spec.initial_replicas} replicas of "
                f"{spec.resources.gpu_count}); this machine has {len(self._jobs.inventory)}"
            )
        return None


def open_local_services(url: SplitResult, options: Mapping[str, Any]) -> LocalServiceDriver:
    """Open ``local://[name]?gpus=N&gpu_type=T`` (default name ``default``)."""
    jobs = open_local_jobs(url, options)
    return LocalServiceDriver(url.netloc or "default", jobs)

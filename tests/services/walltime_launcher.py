"""A real local launcher whose replicas have a walltime, as Slurm jobs do (for renewal tests).

The controller loads it as ``--launcher walltime_launcher:make_launcher`` (the test puts this
directory on ``PYTHONPATH``). Each replica reports ``expires_at`` and is killed when it passes,
exactly what Slurm does at a job's time limit.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from portacloud.services.launcher import Launched, LaunchState, ReplicaPlan
from portacloud.services.local_launcher import LocalLauncher


class WalltimeLauncher(LocalLauncher):
    def __init__(self, *, walltime: float, service_dir: Path) -> None:
        super().__init__(service_dir=service_dir, gpu_db=None)
        self._walltime = walltime
        self._started: dict[str, float] = {}

    def start(self, plan: ReplicaPlan) -> str:
        token = super().start(plan)
        self._started[token] = time.time()
        return token

    def poll(self, token: str, plan: ReplicaPlan) -> Launched:
        launched = super().poll(token, plan)
        expires = self._started.setdefault(token, time.time()) + self._walltime
        if launched.state is LaunchState.RUNNING and time.time() >= expires:
            self.stop(token, grace=1.0)
            return Launched(state=LaunchState.EXITED, reason="walltime reached")
        return replace(launched, expires_at=datetime.fromtimestamp(expires, UTC))


def make_launcher(service_dir: Path, options: dict[str, object]) -> WalltimeLauncher:
    return WalltimeLauncher(walltime=float(str(options["walltime"])), service_dir=service_dir)

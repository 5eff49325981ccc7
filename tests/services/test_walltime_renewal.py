"""Replicas with a walltime (Slurm's) are replaced before it ends, without a failed request."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from svc_helpers import app_spec

from portacloud.services.controlled import ControlledServiceDriver
from portacloud.services.services import Services
from portacloud_conformance.services.support import RequestLoop


def test_replicas_are_renewed_before_their_walltime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    driver = ControlledServiceDriver(
        tmp_path / "services",
        launcher="walltime_launcher:make_launcher",
        launcher_options={"walltime": 4.0},
        controller_args=("--renew-margin", "2.0"),
    )
    services = Services(driver, url="walltime://")
    try:
        services.deploy(app_spec("renewed", replicas=2))
        status = services.wait("renewed", timeout=30)
        first = {r.id for r in status.replicas}
        assert status.endpoint_url is not None
        with RequestLoop(status.endpoint_url + "/") as load:
            time.sleep(9.0)  # more than two walltimes
        now = services.get("renewed")
        assert load.failures == []
        assert load.ok > 50
        assert not first & {r.id for r in now.replicas}  # every replica was replaced
        assert all(r.restarts == 0 for r in now.replicas)  # none reached its walltime
        assert now.ready_replicas >= 2
    finally:
        for known in services.list():
            services.delete(known.name)

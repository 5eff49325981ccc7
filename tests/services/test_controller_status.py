"""How the controller's records become a ServiceStatus (pure mapping, no processes)."""

from __future__ import annotations

import json
from pathlib import Path

from portacloud.services.controller_state import ControllerState, Desired, Phase, Replica
from portacloud.services.controller_status import service_status, tail_lines
from portacloud.services.models import ServiceSpec, ServiceState
from portacloud.services.router import ROUTER_FILE


def _desired(version: int = 1, replicas: int = 2) -> Desired:
    spec = ServiceSpec(name="s", command="serve", replicas=replicas)
    return Desired(spec=spec, version=version, replicas=replicas, created_at=0.0)


def _state(*replicas: Replica, ever_ready: bool = True) -> ControllerState:
    return ControllerState(pid=1, replicas=list(replicas), ever_ready=ever_ready)


def _routed(tmp_path: Path) -> Path:
    (tmp_path / ROUTER_FILE).write_text(json.dumps({"port": 8080, "host": "127.0.0.1"}))
    return tmp_path


def test_ready_needs_every_replica_and_the_router(tmp_path: Path) -> None:
    both = _state(
        Replica(id="s-v1-1", version=1, phase=Phase.READY),
        Replica(id="s-v1-2", version=1, phase=Phase.READY),
    )
    assert service_status(tmp_path, both, _desired(), pending=set()).state is ServiceState.STARTING
    status = service_status(_routed(tmp_path), both, _desired(), pending=set())
    assert status.state is ServiceState.READY
    assert status.endpoint_url == "http://127.0.0.1:8080"
    one = _state(
        Replica(id="s-v1-1", version=1, phase=Phase.READY),
        Replica(id="s-v1-2", version=1, restarts=1),
    )
    status = service_status(tmp_path, one, _desired(), pending=set())
    assert status.state is ServiceState.NOT_READY
    assert status.replicas[1].state is ServiceState.NOT_READY


def test_first_start_is_pending_then_starting(tmp_path: Path) -> None:
    waiting = _state(Replica(id="s-v1-1", version=1), ever_ready=False)
    desired = _desired(replicas=1)
    assert service_status(tmp_path, waiting, desired, pending=set()).state is ServiceState.PENDING
    started = _state(Replica(id="s-v1-1", version=1, phase=Phase.STARTING), ever_ready=False)
    status = service_status(tmp_path, started, desired, pending={"s-v1-1"})
    assert status.state is ServiceState.STARTING
    assert status.replicas[0].state is ServiceState.PENDING  # the backend queues it


def test_old_versions_or_draining_replicas_mean_updating(tmp_path: Path) -> None:
    rolling = _state(
        Replica(id="s-v1-1", version=1, phase=Phase.READY),
        Replica(id="s-v2-2", version=2, phase=Phase.READY),
    )
    status = service_status(
        _routed(tmp_path), rolling, _desired(version=2, replicas=1), pending=set()
    )
    assert status.state is ServiceState.UPDATING
    draining = _state(
        Replica(id="s-v1-1", version=1, phase=Phase.READY),
        Replica(id="s-v1-2", version=1, phase=Phase.DRAINING),
    )
    status = service_status(_routed(tmp_path), draining, _desired(replicas=1), pending=set())
    assert status.state is ServiceState.UPDATING
    assert status.replicas[1].state is ServiceState.STOPPING


def test_a_failed_replica_of_this_version_fails_the_service_with_its_reason(tmp_path: Path) -> None:
    failed = Replica(id="s-v1-1", version=1, phase=Phase.FAILED, reason="crashed: boom")
    status = service_status(tmp_path, _state(failed), _desired(replicas=1), pending=set())
    assert status.state is ServiceState.FAILED
    assert status.reason == "replica s-v1-1: crashed: boom"
    final = service_status(
        tmp_path, _state(), _desired(), pending=set(), final=ServiceState.STOPPED
    )
    assert final.state is ServiceState.STOPPED
    assert final.endpoint_url is None


def test_tail_lines_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "r.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    assert tail_lines(log, 3) == "line 27\nline 28\nline 29"
    assert tail_lines(tmp_path / "missing.log") == ""

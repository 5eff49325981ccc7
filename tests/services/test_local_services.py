"""local:// services: deploy, reach, readiness gating, scale, logs, errors (real processes)."""

from __future__ import annotations

import json
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
from svc_helpers import app_spec, fetch, replica_pids

import portacloud
from portacloud.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from portacloud.jobs.local_store import pid_alive
from portacloud.services.models import ServiceState
from portacloud.services.services import Services


def test_deploy_serves_from_every_replica(services: Services) -> None:
    first = services.deploy(app_spec("web", replicas=2))
    assert first.state in (ServiceState.PENDING, ServiceState.STARTING)
    status = services.wait("web", timeout=30)
    assert status.endpoint_url
    assert status.ready_replicas == 2
    assert status.version == 1
    seen = set()
    for _ in range(6):
        code, body = fetch(status.endpoint_url + "/")
        assert code == 200
        seen.add(json.loads(body)["replica"])
    assert seen == {r.id for r in status.replicas}
    assert [s.name for s in services.list()] == ["web"]
    with pytest.raises(AlreadyExistsError):
        services.deploy(app_spec("web"))


def test_unknown_names_are_not_found(services: Services) -> None:
    for call in (
        lambda: services.get("nope"),
        lambda: services.scale("nope", 2),
        lambda: services.delete("nope"),
        lambda: services.update(app_spec("nope")),
        lambda: services.logs("nope"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_a_replica_gets_traffic_only_once_ready(services: Services) -> None:
    services.deploy(app_spec("slow", env={"APP_READY_AFTER": "1.5"}))
    deadline = time.monotonic() + 10
    while services.get("slow").endpoint_url is None and time.monotonic() < deadline:
        time.sleep(0.05)
    status = services.get("slow")
    assert status.endpoint_url is not None
    assert status.state is ServiceState.STARTING
    assert status.replicas[0].state is ServiceState.STARTING
    code, _ = fetch(status.endpoint_url + "/")
    assert code == 503  # the replica listens, but its probe fails: the router holds it back
    ready = services.wait("slow", timeout=20)
    assert fetch(ready.endpoint_url + "/")[0] == 200  # type: ignore[operator]


def test_an_unready_replica_is_taken_out_of_traffic(services: Services, tmp_path: Path) -> None:
    marker = tmp_path / "unready"
    services.deploy(app_spec("gate", replicas=2, env={"APP_UNREADY_FILE": str(marker)}))
    services.wait("gate", timeout=30)
    marker.write_text("")  # every replica's probe now fails
    deadline = time.monotonic() + 10
    now = services.get("gate")
    while now.ready_replicas and time.monotonic() < deadline:
        time.sleep(0.1)
        now = services.get("gate")
    assert now.ready_replicas == 0, now
    assert now.state is ServiceState.NOT_READY
    assert fetch(now.endpoint_url + "/")[0] == 503  # type: ignore[operator]
    marker.unlink()
    back = services.wait("gate", timeout=30)
    assert back.ready_replicas == 2
    assert all(r.restarts >= 1 for r in back.replicas)  # unready past the threshold: restarted


def test_scale_up_and_down(services: Services) -> None:
    services.deploy(app_spec("scaled", replicas=1))
    services.wait("scaled", timeout=30)
    services.scale("scaled", 3)
    status = services.wait("scaled", timeout=30)
    assert status.desired_replicas == 3
    assert status.ready_replicas == 3
    pids = replica_pids("scaled")
    assert len(pids) == 3
    services.scale("scaled", 1)
    status = services.wait("scaled", timeout=30)
    assert [r.state for r in status.replicas] == [ServiceState.READY]
    assert status.replicas[0].id == "scaled-v1-1"  # the newest go first
    stopped = [p for p in pids if p not in replica_pids("scaled")]
    assert len(stopped) == 2
    assert not any(pid_alive(p) for p in stopped)
    services.scale("scaled", 0)
    status = services.wait("scaled", timeout=30)
    assert status.replicas == ()
    assert fetch(f"{status.endpoint_url}/")[0] == 503


def test_logs_of_all_replicas_and_of_one(services: Services) -> None:
    services.deploy(app_spec("logged", replicas=2))
    status = services.wait("logged", timeout=30)
    text = services.logs("logged")
    for replica in status.replicas:
        assert f"[{replica.id}] serving on port" in text
    one = services.logs("logged", replica=status.replicas[1].id)
    assert one.startswith("serving on port")
    assert "[" not in one
    with pytest.raises(NotFoundError):
        services.logs("logged", replica="logged-v9-9")
    follow = services.logs("logged", follow=True)
    first = next(follow) + next(follow)  # one chunk per replica's log so far
    assert first.count("serving on port") == 2
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(follow), daemon=True)
    reader.start()
    with suppress(OSError):
        fetch(f"{status.replicas[0].url}/crash")  # its restart's lines reach the follower
    deadline = time.monotonic() + 10
    while "serving on port" not in "".join(rest) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "serving on port" in "".join(rest)  # the restarted replica's first line
    services.delete("logged")
    reader.join(timeout=10)
    assert not reader.is_alive()  # following ends with the service


def test_gpus_are_given_exclusively_and_impossible_asks_refused(services: Services) -> None:
    services.deploy(app_spec("gpu", replicas=2, resources={"gpus": 1}))
    status = services.wait("gpu", timeout=30)
    assert sorted(g for r in status.replicas for g in r.gpus) == [0, 1]
    seen = {json.loads(fetch(status.endpoint_url + "/")[1])["gpus"] for _ in range(6)}  # type: ignore[operator]
    assert seen == {"0", "1"}
    with pytest.raises(InvalidArgumentError, match="GPU"):
        services.deploy(app_spec("toomany", replicas=1, resources={"gpus": 3}))
    with pytest.raises(InvalidArgumentError, match="GPU"):
        services.deploy(app_spec("toowide", replicas=3, resources={"gpus": 1}))
    assert {s.name for s in services.list()} == {"gpu"}
    # A job of the same local:// queue waits: the service holds both GPUs.
    jobs = portacloud.open_jobs("local://?gpus=2")
    spec = {"name": "j", "command": "echo $CUDA_VISIBLE_DEVICES", "resources": {"gpus": 1}}
    job = jobs.submit(spec)
    time.sleep(1.0)
    assert jobs.status(job.id).state.value == "PENDING"
    services.delete("gpu")
    done = jobs.wait(job.id, timeout=30)
    assert done.state.value == "SUCCEEDED"

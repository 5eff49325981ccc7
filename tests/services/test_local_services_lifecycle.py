"""local:// services outlive their client, survive their controller, and free all on delete."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from svc_helpers import app_spec, fetch, replica_pids, service_dir

import portacloud
from portacloud.jobs.local_store import pid_alive
from portacloud.services.models import ServiceState
from portacloud.services.services import Services


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _controller_pid(name: str) -> int:
    return int((service_dir(name) / "controller.pid").read_text().split(":")[0])


def _wait_dead(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if pid_alive(p)]


def test_delete_frees_ports_gpus_and_processes(services: Services) -> None:
    services.deploy(app_spec("freed", replicas=2, resources={"gpus": 1}))
    status = services.wait("freed", timeout=30)
    ports = [_port(status.endpoint_url or "")] + [_port(r.url or "") for r in status.replicas]
    pids = [*replica_pids("freed"), _controller_pid("freed")]
    services.delete("freed")
    assert _wait_dead(pids) == []
    assert all(_refused(p) for p in ports)
    assert services.list() == []
    assert not service_dir("freed").exists()
    # Both GPUs are free again: a service that needs both of them runs at once.
    services.deploy(app_spec("again", replicas=1, resources={"gpus": 2}))
    assert services.wait("again", timeout=30).replicas[0].gpus == (0, 1)


def test_the_service_outlives_the_process_that_deployed_it(services: Services) -> None:
    script = (
        "import json, sys, portacloud\n"
        "s = portacloud.open_services('local://?gpus=2')\n"
        "s.deploy(json.loads(sys.argv[1]))\n"
    )
    spec = json.dumps(app_spec("orphan", replicas=1))
    subprocess.run([sys.executable, "-c", script, spec], check=True, timeout=60)
    status = services.wait("orphan", timeout=30)
    assert fetch(status.endpoint_url + "/")[0] == 200  # type: ignore[operator]


def test_a_killed_controller_is_restarted_and_adopts_its_replicas(services: Services) -> None:
    services.deploy(app_spec("adopt", replicas=2))
    status = services.wait("adopt", timeout=30)
    before = sorted(replica_pids("adopt"))
    old = _controller_pid("adopt")
    os.kill(old, signal.SIGKILL)
    assert _wait_dead([old]) == []
    assert fetch(status.endpoint_url + "/")[0] == 200  # type: ignore[operator]  # serving on
    services.get("adopt")  # finds the controller dead and starts another
    assert _controller_pid("adopt") != old
    again = services.wait("adopt", timeout=30)
    assert sorted(replica_pids("adopt")) == before  # the same processes, not new ones
    assert again.endpoint_url == status.endpoint_url
    # The new controller watches them: a crash is still replaced.
    with pytest.raises(OSError, match=r"closed|reset|aborted|Remote end"):
        fetch(f"{again.replicas[0].url}/crash")
    deadline = time.monotonic() + 10
    while services.get("adopt").replicas[0].restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert services.wait("adopt", timeout=30).replicas[0].restarts == 1


def test_delete_after_the_controller_was_killed_leaks_nothing(services: Services) -> None:
    services.deploy(app_spec("leak", replicas=2, resources={"gpus": 1}))
    status = services.wait("leak", timeout=30)
    pids = replica_pids("leak")
    router = json.loads((service_dir("leak") / "router.json").read_text())["pid"]
    os.kill(_controller_pid("leak"), signal.SIGKILL)
    services.delete("leak")  # no controller to ask: the driver stops what it recorded
    assert _wait_dead([*pids, router]) == []
    assert _refused(_port(status.endpoint_url or ""))
    services.deploy(app_spec("after", replicas=1, resources={"gpus": 2}))  # GPUs released
    assert services.wait("after", timeout=30).state is ServiceState.READY


def test_each_replica_runs_in_its_own_copy_of_the_workdir(
    services: Services, tmp_path: Path
) -> None:
    work = tmp_path / "site"
    work.mkdir()
    (work / "index.txt").write_text("v1\n")
    command = (
        f"echo $PORTACLOUD_REPLICA > mine.txt && cat index.txt && exec {sys.executable} "
        "-m portacloud_conformance.services.app"
    )
    spec = app_spec("files", replicas=2, workdir=str(work))
    spec["command"] = command
    services.deploy(spec)
    status = services.wait("files", timeout=30)
    (work / "index.txt").write_text("changed after deploy\n")
    for replica in status.replicas:
        copy = service_dir("files") / "work" / replica.id
        assert (copy / "mine.txt").read_text().strip() == replica.id
        assert (copy / "index.txt").read_text() == "v1\n"
    assert services.logs("files").count("] v1\n") == 2


def test_a_second_handle_sees_the_same_services(services: Services) -> None:
    services.deploy(app_spec("shared", replicas=1))
    other = portacloud.open_services("local://?gpus=2")
    assert other.wait("shared", timeout=30).ready_replicas == 1
    other.scale("shared", 2)
    assert services.wait("shared", timeout=30).ready_replicas == 2

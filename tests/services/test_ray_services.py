"""ray:// services on Ray Serve, against the real head (scripts/servers/ray.sh: 2 CPUs, 2 fake
GPUs), beyond what the services conformance suite proves on it in `make test` (endpoint,
readiness gating, rolling update with no failed request, crash replacement, start-up crash
loops, names): the Serve mapping itself. The Serve proxy listens on 127.0.0.1:19121.

Ray's side is read with the dashboard's own REST API, and the replicas' processes with
``/proc`` (the head runs on this machine), behind the driver's back.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import portacloud
from portacloud import ServiceSpec
from portacloud_conformance.services.support import (
    app_spec,
    deployed,
    fetch,
    served,
    unique_name,
)

pytest.importorskip("portacloud_ray")

pytestmark = pytest.mark.integration
WAIT = 120.0
SERVE_PORT = 19121  # scripts/servers/ray.sh: PORTACLOUD_SERVICES_TARGET_RAY


@pytest.fixture(scope="module")
def address() -> str:
    """The head's dashboard address, or fail (CI) / skip (elsewhere) when it is not running."""
    value = os.environ.get("PORTACLOUD_TEST_RAY_ADDRESS")
    if value:
        return value
    if os.environ.get("CI") == "true":
        pytest.fail(
            "ray not running: scripts/services.sh start (PORTACLOUD_TEST_RAY_ADDRESS unset)"
        )
    pytest.skip("ray not running: scripts/services.sh start")


@pytest.fixture(scope="module")
def services(address: str) -> Iterator[portacloud.Services]:
    url = f"ray://{urlsplit(address).netloc}?serve_port={SERVE_PORT}"
    with portacloud.open_services(url) as handle:
        yield handle


def serve_app(address: str, name: str) -> dict[str, Any] | None:
    """The Serve application ``name`` as the dashboard describes it."""
    with urllib.request.urlopen(f"{address}/api/serve/applications/", timeout=30) as answer:
        apps: dict[str, Any] = json.load(answer)["applications"]
    return apps.get(name)


def command_pids(service: str) -> set[int]:
    """The processes on this machine whose environment names the service."""
    found = set()
    marker = f"PORTACLOUD_SERVICE={service}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def gone(pids: set[int], *, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.3)
    return False


def spec(kind: str, **fields: Any) -> ServiceSpec:
    return app_spec(unique_name(kind), sys.executable, **fields)


def test_open_says_what_the_backend_does(services: portacloud.Services) -> None:
    caps = services.capabilities
    assert services.provider == "ray"
    assert caps.endpoint == "Ray Serve proxy"
    assert caps.gpus
    assert caps.autoscaling
    assert caps.rolling_update
    assert caps.restarts
    assert caps.replica_logs
    assert caps.follow_logs
    assert caps.outlives_client


def test_one_serve_application_per_service_on_the_proxy(
    services: portacloud.Services, address: str
) -> None:
    one = spec("app", env={"APP_VERSION": "7"})
    with deployed(services, one) as status:
        assert status.endpoint_url == f"http://127.0.0.1:{SERVE_PORT}/{one.name}"
        app = serve_app(address, one.name)
        assert app is not None
        assert app["status"] == "RUNNING"
        assert app["route_prefix"] == f"/{one.name}"
        [answer] = served(status.endpoint_url + "/some/path?x=1", count=1)
        assert answer["version"] == "7"
        assert answer["path"] == "/some/path?x=1", "the route prefix is stripped"
        assert answer["replica"] == status.replicas[0].id
    assert serve_app(address, one.name) is None


def test_scale_redeploys_the_count_without_restarting(services: portacloud.Services) -> None:
    one = spec("scale")
    with deployed(services, one) as status:
        first = status.replicas[0].id
        services.scale(one.name, 2)
        up = services.wait(one.name, timeout=WAIT)
        assert up.desired_replicas == 2
        assert up.ready_replicas == 2
        assert first in {r.id for r in up.replicas}, "scaling up kept the running replica"
        assert up.version == 1
        with pytest.raises(portacloud.FailedPreconditionError, match="at least one"):
            services.scale(one.name, 0)


def test_autoscaled_range_starts_at_min(services: portacloud.Services, address: str) -> None:
    auto = spec("auto", replicas={"min": 1, "max": 2})
    with deployed(services, auto) as status:
        assert status.desired_replicas == 1
        app = serve_app(address, auto.name)
        assert app is not None
        config = app["deployments"]["replica"]["deployment_config"]["autoscaling_config"]
        assert (config["min_replicas"], config["max_replicas"]) == (1, 2)


def test_logs_by_replica_and_followed(services: portacloud.Services) -> None:
    one = spec("logs", replicas=2)
    with deployed(services, one) as status:
        ids = [r.id for r in status.replicas]
        text = services.logs(one.name)
        for rid in ids:
            assert f"[{rid}] serving on port" in text
        assert services.logs(one.name, replica=ids[0]).startswith("serving on port")
        with pytest.raises(portacloud.NotFoundError):
            services.logs(one.name, replica="no-such-replica")
        followed = services.logs(one.name, follow=True)
        assert "serving on port" in next(followed)


def test_delete_stops_serving_and_the_commands(services: portacloud.Services) -> None:
    one = spec("delete", replicas=2)
    services.deploy(one)
    status = services.wait(one.name, timeout=WAIT)
    assert status.endpoint_url
    pids = command_pids(one.name)
    assert len(pids) == 2, "one command per replica, in this machine's process table"
    services.delete(one.name)
    assert gone(pids), "the commands outlived the service"
    code, body = fetch(status.endpoint_url)
    assert body is None, f"still served after delete ({code})"
    with pytest.raises(portacloud.NotFoundError):
        services.get(one.name)


def test_a_killed_replica_worker_takes_its_command_along(
    services: portacloud.Services, address: str
) -> None:
    one = spec("reap")
    with deployed(services, one):
        app = serve_app(address, one.name)
        assert app is not None
        [replica] = app["deployments"]["replica"]["replicas"]
        commands = command_pids(one.name)
        assert commands
        # SIGKILL: no destructor runs; the reaper must notice and stop the command.
        os.kill(int(replica["pid"]), signal.SIGKILL)
        assert gone(commands), "the command outlived its replica's worker"


def test_gpus_map_to_ray_and_too_many_are_refused_up_front(
    services: portacloud.Services,
) -> None:
    gpu = spec("gpu", resources={"gpus": 1})
    with deployed(services, gpu) as status:
        assert status.endpoint_url
        [answer] = served(status.endpoint_url, count=1)
        assert answer["gpus"] in ("0", "1"), "Ray gives the replica one of the head's 2 GPUs"
    started = time.monotonic()
    with pytest.raises(portacloud.ResourceExhaustedError, match="3 GPU"):
        services.deploy(spec("gpus", resources={"gpus": 3}))
    assert time.monotonic() - started < 30


def test_the_workdir_is_the_replicas_working_directory(
    services: portacloud.Services, tmp_path: Path
) -> None:
    (tmp_path / "hello.txt").write_text("hello from the workdir\n")
    shipped = ServiceSpec(
        name=unique_name("workdir"),
        command=f"{sys.executable} -m http.server $PORT --bind 127.0.0.1",
        workdir=str(tmp_path),
        readiness={"path": "/hello.txt", "period": 0.3},
    )
    with deployed(services, shipped) as status:
        assert status.endpoint_url
        with urllib.request.urlopen(status.endpoint_url + "/hello.txt", timeout=10) as answer:
            assert answer.read() == b"hello from the workdir\n"

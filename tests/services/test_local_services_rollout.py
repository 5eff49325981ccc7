"""local:// services: rolling updates under load, crashes, start-up failures (real processes)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from svc_helpers import app_spec, fetch

from portacloud.errors import FailedPreconditionError
from portacloud.jobs.local_store import pid_alive
from portacloud.services.models import ServiceState
from portacloud.services.services import Services
from portacloud_conformance.services.support import RequestLoop


@pytest.mark.parametrize(("surge", "unavailable"), [(1, 0), (0, 1)])
def test_rolling_update_drops_no_request(services: Services, surge: int, unavailable: int) -> None:
    update = {"max_surge": surge, "max_unavailable": unavailable}
    services.deploy(app_spec("roll", replicas=2, update=update))
    status = services.wait("roll", timeout=30)
    assert status.endpoint_url is not None
    lowest = 2
    with RequestLoop(status.endpoint_url) as load:
        time.sleep(0.3)
        new = app_spec("roll", replicas=2, update=update, env={"APP_VERSION": "2"})
        assert services.update(new).version == 2
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = services.get("roll")
            lowest = min(lowest, now.ready_replicas)
            if now.state is ServiceState.READY and now.version == 2:
                break
            time.sleep(0.05)
        time.sleep(0.3)
    assert load.failures == []
    assert lowest >= 2 - unavailable
    assert load.versions["1"] > 0
    assert load.versions["2"] > 0
    done = services.get("roll")
    assert done.state is ServiceState.READY
    assert {r.version for r in done.replicas} == {2}
    assert len(done.replicas) == 2
    assert {json.loads(fetch(done.endpoint_url + "/")[1])["version"] for _ in range(4)} == {"2"}  # type: ignore[operator]


def test_a_crashed_replica_is_restarted(services: Services) -> None:
    services.deploy(app_spec("crashy", replicas=1))
    status = services.wait("crashy", timeout=30)
    replica = status.replicas[0]
    with pytest.raises(OSError, match=r"closed|reset|aborted|Remote end"):
        fetch(f"{replica.url}/crash")  # the replica exits without answering
    deadline = time.monotonic() + 5
    now = services.get("crashy")
    while now.replicas[0].restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        now = services.get("crashy")
    assert now.replicas[0].restarts == 1
    assert "exited with code 3" in (now.replicas[0].reason or "")
    back = services.wait("crashy", timeout=30)
    assert back.replicas[0].id == replica.id
    assert back.replicas[0].restarts == 1
    assert fetch(back.endpoint_url + "/")[0] == 200  # type: ignore[operator]


def test_a_replica_that_cannot_start_fails_with_its_log(services: Services) -> None:
    spec = app_spec("broken", env={"APP_FAIL_AT_START": "1"}, max_start_failures=2)
    started = time.monotonic()
    services.deploy(spec)
    with pytest.raises(FailedPreconditionError, match="boom: cannot start"):
        services.wait("broken", timeout=30)
    status = services.get("broken")
    assert status.state is ServiceState.FAILED
    assert "crashed 2 time(s)" in (status.reason or "")
    assert status.replicas[0].state is ServiceState.FAILED
    assert time.monotonic() - started < 10  # one backoff of 1 s between the two tries
    fixed = services.update(app_spec("broken"))  # a fixed version recovers it
    assert fixed.state is not ServiceState.FAILED
    assert services.wait("broken", timeout=30).version == 2


def test_a_failing_update_leaves_the_old_version_serving(services: Services) -> None:
    services.deploy(app_spec("keep", replicas=2))
    status = services.wait("keep", timeout=30)
    bad = app_spec("keep", replicas=2, env={"APP_FAIL_AT_START": "1"}, max_start_failures=1)
    services.update(bad)
    with pytest.raises(FailedPreconditionError, match="boom"):
        services.wait("keep", timeout=30)
    now = services.get("keep")
    assert sum(1 for r in now.replicas if r.version == 1 and r.state is ServiceState.READY) == 2
    codes = {fetch(status.endpoint_url + "/")[0] for _ in range(4)}  # type: ignore[operator]
    assert codes == {200}


def test_what_a_crashed_replica_left_in_its_group_is_stopped(
    services: Services, tmp_path: Path
) -> None:
    pidfile = tmp_path / "worker.pid"
    # The replica's first process starts a worker in its group, then dies before listening.
    command = f"sleep 300 & echo $! > {pidfile}; exit 3"
    services.deploy({**app_spec("orphans"), "command": command, "max_start_failures": 1})
    with pytest.raises(FailedPreconditionError, match="exited with code 3"):
        services.wait("orphans", timeout=30)
    worker = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while pid_alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(worker)


_SLOW_APP = """
import os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(3)
        body = os.environ["PORTACLOUD_REPLICA"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Slow).serve_forever()
"""


def test_a_replaced_replica_finishes_its_requests_in_flight(
    services: Services, tmp_path: Path
) -> None:
    app = tmp_path / "slow.py"
    app.write_text(_SLOW_APP)
    spec = {**app_spec("slow"), "command": [sys.executable, str(app)], "env": {"V": "1"}}
    status = services.deploy(spec)
    status = services.wait("slow", timeout=30)
    answers: list[tuple[int, bytes]] = []
    slow = threading.Thread(target=lambda: answers.append(fetch(f"{status.endpoint_url}/slow")))
    slow.start()
    time.sleep(0.5)  # the request is in flight to the only replica, v1
    services.update({**spec, "env": {"V": "2"}})
    slow.join(timeout=30)
    # The old replica left traffic at once but was stopped only after its answer went out.
    assert answers == [(200, b"slow-v1-1")]
    done = services.wait("slow", timeout=30)
    assert [r.version for r in done.replicas] == [2]

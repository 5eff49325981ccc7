"""Readiness gating, crash replacement, start-up crash loops, scaling and delete."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

import portacloud
from portacloud import ServiceState
from portacloud_conformance.services.support import (
    WAIT,
    app_spec,
    deployed,
    fetch,
    served,
    unique_name,
    wait_for,
)


def test_not_ready_before_the_probe_passes(services: portacloud.Services, job_python: str) -> None:
    spec = app_spec(unique_name("slow"), job_python, env={"APP_READY_AFTER": "6"})
    with deployed(services, spec, ready=False):
        time.sleep(1)
        early = services.get(spec.name)
        assert early.state is not ServiceState.READY
        assert not any(r.state is ServiceState.READY for r in early.replicas)
        if early.endpoint_url:
            code, body = fetch(early.endpoint_url)
            assert body is None, f"a replica that is not ready served a request ({code})"
        ready = services.wait(spec.name, timeout=WAIT)
        assert ready.endpoint_url
        assert fetch(ready.endpoint_url)[0] == 200


def test_a_replica_that_is_not_ready_gets_no_traffic(
    services: portacloud.Services, job_python: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="portacloud-unready-") as marks:
        spec = app_spec(unique_name("gate"), job_python, env={"APP_UNREADY_DIR": marks}, replicas=2)
        with deployed(services, spec) as status:
            assert status.endpoint_url
            sick = status.replicas[0].id
            Path(marks, sick).touch()
            wait_for(
                lambda: services.get(spec.name),
                lambda s: all(
                    r.state is not ServiceState.READY for r in s.replicas if r.id == sick
                ),
                f"replica {sick} to leave READY",
            )
            answers = served(status.endpoint_url, count=20)
            assert sick not in {a["replica"] for a in answers}


def test_a_crashed_replica_is_replaced(services: portacloud.Services, job_python: str) -> None:
    if not services.capabilities.restarts:
        pytest.skip("capability restarts is false")
    spec = app_spec(unique_name("crash"), job_python)
    with deployed(services, spec) as status:
        assert status.endpoint_url
        before = served(status.endpoint_url, count=1)[0]["pid"]
        fetch(status.endpoint_url + "/crash")  # the request itself fails: the replica died
        after = wait_for(
            lambda: services.get(spec.name),
            lambda s: (
                s.state is ServiceState.READY and _serving_pid(s.endpoint_url) not in (None, before)
            ),
            "a new replica to replace the crashed one",
        )
        assert after.ready_replicas == 1


def _serving_pid(endpoint: str | None) -> int | None:
    if not endpoint:
        return None
    status, body = fetch(endpoint)
    return int(body["pid"]) if status == 200 and body else None


def test_a_start_up_crash_loop_fails_with_the_log(
    services: portacloud.Services, job_python: str
) -> None:
    spec = app_spec(
        unique_name("boom"), job_python, env={"APP_FAIL_AT_START": "1"}, max_start_failures=2
    )
    with deployed(services, spec, ready=False):
        with pytest.raises(portacloud.FailedPreconditionError, match="boom: cannot start"):
            services.wait(spec.name, timeout=WAIT)
        status = services.get(spec.name)
        assert status.state is ServiceState.FAILED
        assert "boom: cannot start" in (status.reason or "")


def test_scale_up_and_down(services: portacloud.Services, job_python: str) -> None:
    spec = app_spec(unique_name("scale"), job_python)
    with deployed(services, spec) as status:
        assert status.endpoint_url
        services.scale(spec.name, 3)
        up = services.wait(spec.name, timeout=WAIT)
        assert up.desired_replicas == 3
        assert up.ready_replicas == 3
        replicas = {a["replica"] for a in served(status.endpoint_url, count=30)}
        assert len(replicas) >= 2, "requests are spread over the replicas"
        services.scale(spec.name, 1)
        down = wait_for(
            lambda: services.get(spec.name),
            lambda s: s.state is ServiceState.READY and len(s.replicas) == 1,
            "the scale-down to 1",
        )
        assert down.desired_replicas == 1
        served(status.endpoint_url, count=5)


def test_delete_stops_serving_and_frees_the_ports(
    services: portacloud.Services, job_python: str
) -> None:
    spec = app_spec(unique_name("delete"), job_python, replicas=2)
    status = services.deploy(spec)
    status = services.wait(spec.name, timeout=WAIT)
    assert status.endpoint_url
    replica_urls = [r.url for r in status.replicas if r.url]
    services.delete(spec.name)
    with pytest.raises(portacloud.NotFoundError):
        services.get(spec.name)
    code, body = fetch(status.endpoint_url)
    assert body is None or body.get("replica") is None, f"still served after delete ({code})"
    for url in replica_urls:
        assert fetch(url)[0] == 0, f"replica {url} still listens after delete"

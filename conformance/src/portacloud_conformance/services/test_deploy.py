"""Deploy, reach the endpoint, describe, list, logs, and outliving the deploying process."""

from __future__ import annotations

import subprocess
import sys

import pytest

import portacloud
from portacloud import ServiceState
from portacloud_conformance.services.support import (
    app_spec,
    deployed,
    fetch,
    served,
    unique_name,
)


def test_deploy_serves_on_the_endpoint(services: portacloud.Services, job_python: str) -> None:
    spec = app_spec(unique_name("deploy"), job_python, env={"APP_VERSION": "1"})
    with deployed(services, spec) as status:
        assert status.state is ServiceState.READY
        assert status.name == spec.name
        assert status.version == 1
        assert status.desired_replicas == 1
        assert status.endpoint_url, "a READY service has an endpoint"
        assert [r.state for r in status.replicas] == [ServiceState.READY]
        answers = served(status.endpoint_url, count=5)
        assert {a["version"] for a in answers} == {"1"}
        ids = {r.id for r in status.replicas}
        assert {a["replica"] for a in answers} <= ids, "PORTACLOUD_REPLICA is the replica's id"


def test_get_list_and_unknown_names(services: portacloud.Services, job_python: str) -> None:
    spec = app_spec(unique_name("list"), job_python)
    with deployed(services, spec):
        assert spec.name in {s.name for s in services.list()}
        assert services.get(spec.name).spec == spec
    with pytest.raises(portacloud.NotFoundError):
        services.get(spec.name)
    assert spec.name not in {s.name for s in services.list()}
    with pytest.raises(portacloud.NotFoundError):
        services.delete(spec.name)
    with pytest.raises(portacloud.NotFoundError):
        services.scale(spec.name, 2)


def test_deploying_a_name_twice_is_already_exists(
    services: portacloud.Services, job_python: str
) -> None:
    spec = app_spec(unique_name("twice"), job_python)
    with deployed(services, spec, ready=False), pytest.raises(portacloud.AlreadyExistsError):
        services.deploy(spec)


def test_logs_hold_the_replicas_output(services: portacloud.Services, job_python: str) -> None:
    spec = app_spec(unique_name("logs"), job_python)
    with deployed(services, spec) as status:
        assert "serving on port" in services.logs(spec.name)
        if services.capabilities.replica_logs:
            replica = status.replicas[0].id
            assert "serving on port" in services.logs(spec.name, replica=replica)


def test_service_outlives_the_deploying_process(
    services: portacloud.Services, job_python: str
) -> None:
    if not services.capabilities.outlives_client:
        pytest.skip("capability outlives_client is false")
    spec = app_spec(unique_name("outlive"), job_python)
    deploy = (
        "import sys, portacloud\n"
        "s = portacloud.open_services(sys.argv[1])\n"
        "s.deploy(portacloud.ServiceSpec.model_validate_json(sys.argv[2]))\n"
        "s.wait(sys.argv[3], timeout=120)\n"
    )
    subprocess.run(
        [sys.executable, "-c", deploy, services.url, spec.model_dump_json(), spec.name],
        check=True,
        timeout=180,
    )
    try:
        status = services.wait(spec.name, timeout=60)
        assert status.endpoint_url
        assert fetch(status.endpoint_url)[0] == 200
    finally:
        services.delete(spec.name)

"""The ray:// services' mappings: a spec as a Serve application config, Serve's states as
portable ones. No Ray head needed; the real head is exercised in tests/services."""

from __future__ import annotations

import pytest

from portacloud import ServiceSpec, ServiceState
from portacloud_ray.services import _reason
from portacloud_ray.services_config import IMPORT_PATH, app_config, spec_version
from portacloud_ray.services_errors import map_service_error
from portacloud_ray.services_states import service_state

pytest.importorskip("portacloud_ray")


def _spec(**fields: object) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": "web", "command": "serve --port $PORT", **fields})


def test_a_spec_is_one_serve_application_routed_at_its_name() -> None:
    spec = _spec(replicas=4, resources={"gpus": "A100:1", "cpus": 2, "memory_gb": 1})
    config = app_config(spec, version=3, created_at=10.0, runtime_env={"py_modules": ["x"]})
    assert config["name"] == "web"
    assert config["route_prefix"] == "/web"
    assert config["import_path"] == IMPORT_PATH
    assert config["args"]["argv"] == ["/bin/sh", "-c", "serve --port $PORT"]
    [deployment] = config["deployments"]
    assert deployment["num_replicas"] == 4
    assert deployment["ray_actor_options"] == {
        "num_cpus": 2,
        "num_gpus": 1,
        "accelerator_type": "A100",
        "memory": 2**30,
    }
    # max_surge 1 of 4 replicas: 25 % more at once, a quarter replaced per step.
    assert deployment["max_surge_percent"] == 25
    assert deployment["rolling_update_percentage"] == 0.25
    assert spec_version(config) == (spec, 3, 10.0)


def test_a_scaled_count_stays_out_of_the_args() -> None:
    spec = _spec()
    one = app_config(spec, version=1, created_at=0.0, runtime_env={})
    three = app_config(spec, version=1, created_at=0.0, runtime_env={}, replicas=3)
    assert one["args"] == three["args"], "a new count must not restart the replicas"
    assert three["deployments"][0]["num_replicas"] == 3


def test_a_range_is_an_autoscaling_config() -> None:
    config = app_config(
        _spec(replicas={"min": 2, "max": 5}), version=1, created_at=0.0, runtime_env={}
    )
    [deployment] = config["deployments"]
    assert "num_replicas" not in deployment
    assert deployment["autoscaling_config"] == {
        "min_replicas": 2,
        "max_replicas": 5,
        "initial_replicas": 2,
    }


def test_an_application_that_is_not_a_service_is_ignored() -> None:
    assert spec_version({"name": "theirs", "args": {}}) is None
    assert spec_version({"args": {"portacloud": {"spec": {"name": "bad name"}}}}) is None


@pytest.mark.parametrize(
    ("app", "deployment", "version", "ready", "desired", "expected"),
    [
        ("NOT_STARTED", None, 1, 0, 1, ServiceState.PENDING),
        ("DEPLOYING", None, 1, 0, 1, ServiceState.PENDING),
        ("DEPLOYING", "UPDATING", 1, 0, 1, ServiceState.STARTING),
        ("DEPLOYING", "UPDATING", 2, 1, 1, ServiceState.UPDATING),
        ("RUNNING", "HEALTHY", 1, 2, 2, ServiceState.READY),
        ("DEPLOYING", "UPSCALING", 1, 1, 3, ServiceState.NOT_READY),
        ("DEPLOYING", "DOWNSCALING", 1, 3, 1, ServiceState.READY),
        ("UNHEALTHY", "UNHEALTHY", 1, 0, 1, ServiceState.NOT_READY),
        ("DEPLOY_FAILED", "DEPLOY_FAILED", 1, 0, 1, ServiceState.FAILED),
        ("DELETING", "HEALTHY", 1, 1, 1, ServiceState.STOPPING),
    ],
)
def test_serve_states(
    app: str, deployment: str | None, version: int, ready: int, desired: int, expected: ServiceState
) -> None:
    state = service_state(app, deployment, version=version, ready=ready, desired=desired)
    assert state is expected


def test_the_reason_starts_at_the_replicas_own_error() -> None:
    message = "Traceback ...\nRuntimeError: the command of service 'x' exited with code 1\nboom"
    assert _reason(message) == "the command of service 'x' exited with code 1\nboom"
    assert _reason("  ") is None


def test_serve_rest_failures_are_portacloud_errors() -> None:
    invalid = map_service_error(
        RuntimeError(
            "Request failed with status code 400: 1 validation error for ServeDeploySchema\n"
            "applications.0.deployments.0.num_replicas\n  Input should be greater than 0."
        )
    )
    assert invalid is not None
    assert invalid.code.value == "INVALID_ARGUMENT"
    assert "num_replicas" in str(invalid)
    assert map_service_error(ValueError("not ours")) is None

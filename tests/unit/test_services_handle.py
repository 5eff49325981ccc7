"""The portable Services handle over a recording driver: validation, capability checks and
waits happen before (or instead of) any driver call. Mapping code only: the backends are
proven by the services conformance suite on local://, Ray and Slurm."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

import pytest

import portacloud
from portacloud import ServiceCapabilities, ServiceSpec, ServiceState, ServiceStatus
from portacloud.errors import PortaCloudError
from portacloud.services.services import Services


class _Driver:
    provider = "fake"

    def __init__(self, **caps: Any) -> None:
        self.capabilities = ServiceCapabilities(**caps)
        self.calls: list[str] = []
        self.states: list[ServiceStatus] = []

    def deploy(self, spec: ServiceSpec) -> ServiceStatus:
        self.calls.append(f"deploy {spec.name}")
        return ServiceStatus(name=spec.name, state=ServiceState.PENDING, spec=spec)

    def update(self, spec: ServiceSpec) -> ServiceStatus:
        self.calls.append(f"update {spec.name}")
        return ServiceStatus(name=spec.name, state=ServiceState.UPDATING, version=2)

    def scale(self, name: str, replicas: int) -> ServiceStatus:
        self.calls.append(f"scale {name} {replicas}")
        return ServiceStatus(name=name, state=ServiceState.STARTING, desired_replicas=replicas)

    def get(self, name: str) -> ServiceStatus:
        self.calls.append(f"get {name}")
        return self.states.pop(0)

    def list(self) -> builtins.list[ServiceStatus]:
        return []

    def delete(self, name: str) -> None:
        self.calls.append(f"delete {name}")

    def logs(self, name: str, replica: str | None) -> str:
        return f"{name}/{replica}"

    def follow_logs(self, name: str, replica: str | None) -> Iterator[str]:
        yield "a"
        yield "b"

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return None

    def native(self) -> object | None:
        return None

    def close(self) -> None:
        pass


def _handle(**caps: Any) -> tuple[Services, _Driver]:
    driver = _Driver(**caps)
    return Services(driver, url="fake://"), driver


def test_spec_from_yaml_mapping_with_kind() -> None:
    spec = ServiceSpec.model_validate(
        {"kind": "Service", "name": "api", "command": "serve", "replicas": {"min": 1, "max": 3}}
    )
    assert spec.initial_replicas == 1
    assert spec.autoscaled
    with pytest.raises(ValueError, match="kind must be 'service'"):
        ServiceSpec.model_validate({"kind": "job", "name": "a", "command": "x"})


def test_schema_names_the_fields() -> None:
    schema = ServiceSpec.model_json_schema()
    assert {"name", "command", "replicas", "readiness", "update"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("fields", "capability"),
    [
        ({"image": "127.0.0.1:5000/a/b:1"}, "images"),
        ({"resources": {"gpus": 1}}, "gpus"),
        ({"resources": {"gpus": "H100:1"}}, "gpus"),
        ({"replicas": {"min": 1, "max": 2}}, "autoscaling"),
    ],
)
def test_missing_capability_is_refused_before_the_driver(
    fields: dict[str, Any], capability: str
) -> None:
    services, driver = _handle()
    with pytest.raises(portacloud.UnsupportedError, match=capability):
        services.deploy({"name": "api", "command": "serve", **fields})
    assert driver.calls == []


def test_replica_bound_and_bad_scale_are_invalid() -> None:
    services, driver = _handle(max_replicas=2)
    with pytest.raises(portacloud.InvalidArgumentError, match="at most 2"):
        services.deploy({"name": "api", "command": "serve", "replicas": 3})
    with pytest.raises(portacloud.InvalidArgumentError, match="at most 2"):
        services.scale("api", 3)
    with pytest.raises(portacloud.InvalidArgumentError, match="int >= 0"):
        services.scale("api", -1)
    with pytest.raises(portacloud.InvalidArgumentError, match="non-empty"):
        services.get("")
    assert driver.calls == []


def test_a_missing_workdir_is_refused(tmp_path: Any) -> None:
    services, driver = _handle(workdir=True)
    with pytest.raises(portacloud.InvalidArgumentError):
        services.deploy({"name": "api", "command": "serve", "workdir": "nope"}, base_dir=tmp_path)
    assert driver.calls == []


def test_wait_returns_ready_only_with_every_replica() -> None:
    services, driver = _handle()
    ready = portacloud.ReplicaStatus(id="r1", state=ServiceState.READY)
    starting = portacloud.ReplicaStatus(id="r2", state=ServiceState.STARTING)
    driver.states = [
        ServiceStatus(name="api", state=ServiceState.READY, desired_replicas=2, replicas=(ready,)),
        ServiceStatus(
            name="api", state=ServiceState.READY, desired_replicas=2, replicas=(ready, starting)
        ),
        ServiceStatus(
            name="api",
            state=ServiceState.READY,
            desired_replicas=2,
            replicas=(ready, ready.model_copy(update={"id": "r2"})),
        ),
    ]
    assert services.wait("api", timeout=10).ready_replicas == 2
    assert driver.calls == ["get api"] * 3


def test_wait_raises_with_the_reason_when_the_service_fails() -> None:
    services, driver = _handle()
    driver.states = [
        ServiceStatus(name="api", state=ServiceState.FAILED, reason="boom: cannot start")
    ]
    with pytest.raises(portacloud.FailedPreconditionError, match="boom: cannot start"):
        services.wait("api", timeout=10)
    with pytest.raises(portacloud.InvalidArgumentError, match="unknown state"):
        services.wait("api", "GONE", timeout=10)


def test_logs_follow_and_unsupported_replica_logs() -> None:
    services, _ = _handle()
    assert services.logs("api", replica="r1") == "api/r1"
    assert list(services.logs("api", follow=True)) == ["a", "b"]
    plain, _ = _handle(replica_logs=False, follow_logs=False)
    with pytest.raises(portacloud.UnsupportedError, match="replica_logs"):
        plain.logs("api", replica="r1")
    with pytest.raises(portacloud.UnsupportedError, match="follow_logs"):
        plain.logs("api", follow=True)


def test_rolling_update_needs_the_capability() -> None:
    services, driver = _handle(rolling_update=False)
    with pytest.raises(portacloud.UnsupportedError, match="rolling_update"):
        services.update({"name": "api", "command": "serve"})
    assert driver.calls == []


def _priced_handle(tmp_path: Any, **budget: float) -> tuple[Services, _Driver, Any]:
    from portacloud.costs.ledger import Ledger
    from portacloud.costs.models import Budget, CostPolicy, Rates

    policy = CostPolicy(
        profile="p",
        rates=Rates(gpu_hour_usd=2.0, cpu_hour_usd=0.5),
        budget=Budget(**budget) if budget else None,
    )
    ledger = Ledger(tmp_path / "ledger.sqlite")
    services, driver = _handle(gpus=True)
    return services.use_costs(policy, ledger=ledger), driver, ledger


def test_a_service_is_priced_per_replica_and_recorded(tmp_path: Any) -> None:
    services, driver, ledger = _priced_handle(tmp_path)
    spec = {"name": "api", "command": "serve", "replicas": 2, "resources": {"cpus": 2}}
    assert services.estimate(spec).price_per_hour == pytest.approx(2.0)
    services.deploy(spec)
    entry = ledger.latest(kind="service", id="api@fake://")
    assert entry is not None
    assert entry.price_per_hour == pytest.approx(2.0)
    driver.states = [ServiceStatus(name="api", state=ServiceState.READY)]
    status = services.get("api")
    assert status.price_per_hour == pytest.approx(2.0)
    assert status.cost is not None
    services.delete("api")
    closed = ledger.latest(kind="service", id="api@fake://")
    assert closed is not None
    assert closed.end_reason == "deleted"


def test_a_deploy_over_the_budget_starts_nothing(tmp_path: Any) -> None:
    services, driver, _ = _priced_handle(tmp_path, monthly_usd=1.0)
    with pytest.raises(portacloud.ResourceExhaustedError, match="service 'big'"):
        services.deploy({"name": "big", "command": "serve", "resources": {"gpus": 1}})
    assert driver.calls == []


def test_a_service_past_its_budget_is_deleted(tmp_path: Any) -> None:
    from datetime import UTC, datetime, timedelta

    services, driver, ledger = _priced_handle(tmp_path, per_run_usd=5.0)
    services.deploy({"name": "api", "command": "serve", "resources": {"gpus": 1}})
    ledger.restart(kind="service", id="api@fake://", at=datetime.now(UTC) - timedelta(hours=3))
    driver.states = [ServiceStatus(name="api", state=ServiceState.READY)]
    status = services.get("api")
    assert status.state is ServiceState.STOPPED
    assert (status.reason or "").startswith("BUDGET_EXCEEDED")
    assert "delete api" in driver.calls
    entry = ledger.latest(kind="service", id="api@fake://")
    assert entry is not None
    assert entry.end_reason == "BUDGET_EXCEEDED"

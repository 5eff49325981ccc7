"""aws:// (EC2 on moto server) with catalog prices: priced, refused over budget, stopped past it.

Budgets are checked in the portable layer, so what is proven here is that nothing reaches
EC2 when a budget refuses, and that the real driver's stop is what ends an over-budget run.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from s3_support import isolate_aws_env

import portacloud
from portacloud import Compute, InstanceState
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import Budget, CostPolicy
from portacloud.costs.report import cost_report
from portacloud.errors import FailedPreconditionError, ResourceExhaustedError

pytestmark = pytest.mark.integration

M5_LARGE_US_EAST_1 = 0.096  # the shipped catalog's list price


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    value = os.environ.get("PORTACLOUD_TEST_MOTO_ENDPOINT")
    if not value:
        reason = "moto not running: scripts/services.sh start"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    isolate_aws_env(monkeypatch)
    return value


@pytest.fixture
def raw(endpoint: str) -> Iterator[Any]:
    import boto3

    client = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    yield client
    client.close()


@pytest.fixture
def tag() -> dict[str, str]:
    return {"cost-test": uuid.uuid4().hex}


@pytest.fixture
def compute(endpoint: str, raw: Any, tag: dict[str, str]) -> Iterator[Compute]:
    with portacloud.open_compute(f"aws://us-east-1?endpoint_url={endpoint}") as handle:
        yield handle
    ids = [i["InstanceId"] for i in _instances(raw, tag)]
    if ids:
        raw.terminate_instances(InstanceIds=ids)


def _instances(raw: Any, tag: dict[str, str]) -> list[dict[str, Any]]:
    ((key, value),) = tag.items()
    found = raw.describe_instances(Filters=[{"Name": f"tag:{key}", "Values": [value]}])
    return [i for r in found["Reservations"] for i in r["Instances"]]


def _policy(**budget: float) -> CostPolicy:
    return CostPolicy(profile="cloud", budget=Budget(**budget) if budget else None)


def test_instances_carry_catalog_prices_and_the_ledger_follows(
    compute: Compute, tag: dict[str, str]
) -> None:
    compute.use_costs(_policy())
    made = compute.create({"name": "priced", "instance_type": "m5.large", "tags": tag})
    assert made.price_per_hour == pytest.approx(M5_LARGE_US_EAST_1)
    compute.wait(made.id, InstanceState.RUNNING, timeout=60)
    compute.stop(made.id)
    compute.start(made.id)
    gone = compute.terminate(made.id)
    assert gone.cost is not None
    history = Ledger().history(kind="instance", id=made.id)
    assert [e.end_reason for e in history] == ["stopped", "terminated"]
    assert all(e.price_per_hour == pytest.approx(M5_LARGE_US_EAST_1) for e in history)
    (line,) = cost_report(Ledger(), by="tag:cost-test")
    assert line.runs == 1
    assert line.cost_usd == pytest.approx(sum(e.cost() for e in history))


def test_over_budget_create_is_refused_before_anything_exists(
    compute: Compute, raw: Any, tag: dict[str, str]
) -> None:
    compute.use_costs(_policy(monthly_usd=0.05))
    with pytest.raises(ResourceExhaustedError) as refused:
        compute.create({"name": "too-dear", "instance_type": "m5.large", "tags": tag})
    assert "$0.096/h" in str(refused.value)
    assert "monthly budget of $0.05" in str(refused.value)
    with pytest.raises(FailedPreconditionError, match=r"no price for t3\.micro"):
        compute.create({"name": "unpriced", "instance_type": "t3.micro", "tags": tag})
    assert _instances(raw, tag) == []
    assert Ledger().entries() == []


def test_a_managed_instance_past_per_run_budget_is_stopped(
    compute: Compute, raw: Any, tag: dict[str, str]
) -> None:
    # 0.096 $/h crosses 0.00004 $ after 1.5 seconds.
    compute.use_costs(_policy(per_run_usd=0.00004))
    made = compute.create({"name": "runaway", "instance_type": "m5.large", "tags": tag})
    time.sleep(2.0)
    seen = compute.get(made.id)
    assert seen.state in (InstanceState.STOPPING, InstanceState.STOPPED)
    (native,) = _instances(raw, tag)
    assert native["State"]["Name"] in ("stopping", "stopped")
    entry = Ledger().latest(kind="instance", id=made.id)
    assert entry is not None
    assert entry.end_reason == "BUDGET_EXCEEDED"
    assert entry.cost() > 0.00004

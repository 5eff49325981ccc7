"""The pricing module against the shipped catalog."""

from __future__ import annotations

from datetime import date

import pytest

from portacloud.compute.catalog import offers, parse_resources
from portacloud.costs.models import Rates
from portacloud.costs.pricing import (
    catalog_date,
    instance_price,
    job_price,
    offer_price,
    project_job,
)
from portacloud.jobs.models import JobSpec
from portacloud.resources import Resources


def test_instance_prices_come_from_the_catalog() -> None:
    assert instance_price("aws", "m5.large", "us-east-1a") == pytest.approx(0.096)
    assert instance_price("aws", "p5en.48xlarge", "us-east-1") == pytest.approx(63.296)
    assert instance_price("aws", "p5.48xlarge", "us-east-1") == pytest.approx(55.04)
    assert instance_price("aws", "p5en.48xlarge", "us-east-1", spot=True) is None
    assert instance_price("aws", "t3.micro", "us-east-1") is None
    assert instance_price("local", "local", "local") == 0.0
    assert instance_price(None, "m5.large", "us-east-1") is None


def test_h200_offers_are_dated_and_sourced() -> None:
    found = offers(parse_resources(gpus="H200:8"))
    assert found
    assert found[0].instance_type == "p5en.48xlarge"
    assert found[0].as_of == date(2026, 12, 5)
    assert "skypilot-catalog" in found[0].source
    assert [offer_price(o) for o in found] == sorted(offer_price(o) for o in found)
    assert {o.provider for o in found} >= {"aws", "gcp"}
    assert all(o.source and o.as_of for o in found)
    newest = catalog_date("aws")
    assert newest is not None
    assert newest >= date(2026, 12, 5)


def test_h100_offers_come_from_all_three_clouds() -> None:
    found = offers(parse_resources(gpus="H100:8"))
    assert {o.provider for o in found} == {"aws", "azure", "gcp"}
    assert [offer_price(o) for o in found] == sorted(offer_price(o) for o in found)
    assert all(o.gpu == "H100" and o.gpu_count == 8 for o in found)
    (nd,) = {o.instance_type for o in found if o.provider == "azure"}
    assert nd == "Standard_ND96isr_H100_v5"
    assert all("skypilot-catalog" in o.source and o.as_of for o in found if o.provider != "aws")


def test_job_price_and_projection() -> None:
    rates = Rates(gpu_hour_usd=2.0, cpu_hour_usd=0.05)
    assert job_price(Resources(), tasks=1, rates=rates) == pytest.approx(0.05)
    assert job_price(Resources(cpus=4, gpus=2), tasks=3, rates=rates) == pytest.approx(12.6)
    spec = JobSpec(name="j", command="x", timeout=1800, retries=2)
    projection = project_job(spec, price_per_hour=4.0)
    assert projection.total_usd == pytest.approx(6.0)
    assert projection.describe() == "$4/h x 0.5 h x 3 attempts"
    unbounded = project_job(JobSpec(name="j", command="x"), price_per_hour=4.0)
    assert not unbounded.bounded
    assert unbounded.total_usd == pytest.approx(4.0)

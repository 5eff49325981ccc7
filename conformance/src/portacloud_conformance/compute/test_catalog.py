"""``resources`` pick the cheapest catalog instance type of the backend's region."""

from __future__ import annotations

import pytest

import portacloud
from portacloud import InstanceState, InvalidArgumentError, Resources
from portacloud_conformance.compute import support
from portacloud_conformance.compute.support import (
    WAIT,
    Launch,
    require,
)

#: The suite's fixture that terminates what a test creates.
launch = support.launch

SMALL = Resources(cpus=1, memory_gb=0.5)


def test_offers_are_of_this_provider_and_cheapest_first(compute: portacloud.Compute) -> None:
    require(compute, "catalog")
    offers = compute.offers(SMALL)
    assert offers, f"the {compute.capabilities.catalog} catalog has no type for {SMALL}"
    assert all(o.provider == compute.capabilities.catalog for o in offers)
    assert all(o.vcpus >= 1 and o.memory_gb >= 0.5 for o in offers)
    prices = [o.price_per_hour for o in offers]
    assert prices == sorted(prices)


def test_resources_pick_the_cheapest_offer(compute: portacloud.Compute, launch: Launch) -> None:
    require(compute, "catalog")
    cheapest = compute.offers(SMALL)[0]
    created = launch(resources=SMALL)
    assert created.instance_type == cheapest.instance_type
    running = compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT)
    assert running.instance_type == cheapest.instance_type


def test_resources_no_type_satisfies_are_invalid_argument(
    compute: portacloud.Compute, launch: Launch
) -> None:
    require(compute, "catalog")
    with pytest.raises(InvalidArgumentError):
        launch(resources=Resources(cpus=1024, memory_gb=65536))


def test_an_unknown_gpu_name_is_invalid_argument(
    compute: portacloud.Compute, launch: Launch
) -> None:
    require(compute, "catalog")
    require(compute, "gpus")
    with pytest.raises(InvalidArgumentError):
        launch(resources=Resources(gpus="NOSUCHGPU:1"))

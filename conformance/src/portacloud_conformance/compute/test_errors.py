"""Unknown ids, bad specs and unsupported options fail with the portable error codes."""

from __future__ import annotations

from typing import Any

import pytest

import portacloud
from portacloud import (
    InvalidArgumentError,
    NotFoundError,
    Resources,
    UnsupportedError,
)
from portacloud_conformance.compute import support
from portacloud_conformance.compute.support import (
    Launch,
    instance_type_for,
    require,
    require_missing,
    unique,
)

#: The suite's fixture that terminates what a test creates.
launch = support.launch

#: A well-formed id no backend has issued, and a string that is no id at all.
UNKNOWN_IDS = ["i-0000000000000000f", "no-such-instance"]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x@y"


@pytest.mark.parametrize("instance_id", UNKNOWN_IDS)
def test_get_of_an_unknown_id_is_not_found(compute: portacloud.Compute, instance_id: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        compute.get(instance_id)
    assert caught.value.resource == instance_id
    assert caught.value.operation == "get"


@pytest.mark.parametrize("operation", ["terminate", "stop", "start"])
def test_operations_on_an_unknown_id_are_not_found(
    compute: portacloud.Compute, operation: str
) -> None:
    if operation != "terminate":
        require(compute, "stop")
    with pytest.raises(NotFoundError):
        getattr(compute, operation)(UNKNOWN_IDS[0])


BAD_SPECS: dict[str, dict[str, Any]] = {
    "name-with-spaces": {"name": "not a name"},
    "name-too-long": {"name": "n" * 64},
    "reserved-tag-prefix": {"tags": {"portacloud:managed": "false"}},
    "empty-tag-key": {"tags": {"": "x"}},
    "unknown-field": {"colour": "blue"},
    "type-and-resources": {"resources": {"cpus": 1}},
    "neither-type-nor-resources": {"instance_type": None},
    "negative-cpus": {"resources": {"cpus": -1}, "instance_type": None},
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_specs_are_invalid_argument(
    compute: portacloud.Compute, launch: Launch, case: str
) -> None:
    spec: dict[str, Any] = {"name": unique(), "instance_type": instance_type_for(compute)}
    spec.update(BAD_SPECS[case])
    with pytest.raises(InvalidArgumentError):
        launch(**spec)


def test_a_spec_that_is_not_a_mapping_is_invalid_argument(compute: portacloud.Compute) -> None:
    with pytest.raises(InvalidArgumentError):
        compute.create(["not", "a", "spec"])  # type: ignore[arg-type]


def test_an_unknown_state_to_wait_for_is_invalid_argument(compute: portacloud.Compute) -> None:
    with pytest.raises(InvalidArgumentError):
        compute.wait(UNKNOWN_IDS[0], "SLEEPING", timeout=1)


@pytest.mark.parametrize("timeout", [-1, 0])
def test_a_timeout_that_is_not_positive_is_invalid_argument(
    compute: portacloud.Compute, timeout: float
) -> None:
    with pytest.raises(InvalidArgumentError):
        compute.wait(UNKNOWN_IDS[0], "RUNNING", timeout=timeout)


def _unsupported_call(compute: portacloud.Compute, launch: Launch, capability: str) -> None:
    if capability == "stop":
        compute.stop(UNKNOWN_IDS[0])
    elif capability == "spot":
        launch(spot=True)
    elif capability == "ssh_keys":
        launch(ssh_public_key=KEY)
    elif capability == "gpus":
        launch(resources=Resources(gpus=1))
    else:
        compute.offers(Resources(cpus=1))


@pytest.mark.parametrize("capability", ["stop", "spot", "ssh_keys", "gpus", "catalog"])
def test_unsupported_operations_name_the_capability(
    compute: portacloud.Compute, launch: Launch, capability: str
) -> None:
    require_missing(compute, capability)
    with pytest.raises(UnsupportedError) as caught:
        _unsupported_call(compute, launch, capability)
    assert capability in str(caught.value)
    assert caught.value.provider == compute.provider

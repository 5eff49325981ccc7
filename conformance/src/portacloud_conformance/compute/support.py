"""Helpers of the compute suite: capability gates, the instance type to name, and ``launch``.

Every instance a test creates goes through the ``launch`` fixture, which terminates it when the
test ends, passed or not. Each carries the tag ``portacloud-conformance=<run id>`` of this
session, so a run's leftovers (if a backend failed to terminate them) are easy to find with
``portacloud compute ls --managed``.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import portacloud
from portacloud import Instance, InstanceState, NotFoundError, PortaCloudError
from portacloud_conformance.support import require, require_missing

__all__ = [
    "INSTANCE_TYPE_ENV",
    "RUN_ID",
    "RUN_TAG",
    "WAIT",
    "Launch",
    "instance_type_for",
    "launch",
    "require",
    "require_missing",
    "terminated_or_gone",
    "unique",
]

#: Generous: real clouds take a minute or two to boot or stop an instance.
WAIT = 300.0
#: The tag every instance of this session carries, and its value.
RUN_TAG = "portacloud-conformance"
RUN_ID = uuid.uuid4().hex[:12]
#: Names the instance type tests launch by name, for a backend the table below does not know.
INSTANCE_TYPE_ENV = "PORTACLOUD_CONFORMANCE_INSTANCE_TYPE"
#: The smallest type of each catalog (or provider), launched by name.
_SMALL_TYPES = {
    "local": "local",
    "aws": "t3.micro",
    "gcp": "e2-micro",
    "azure": "Standard_B1s",
}

Launch = Callable[..., Instance]


def instance_type_for(compute: portacloud.Compute) -> str:
    """The instance type tests name: ``$PORTACLOUD_CONFORMANCE_INSTANCE_TYPE``, else the
    smallest type of the backend's catalog or provider; skip when neither is known."""
    named = os.environ.get(INSTANCE_TYPE_ENV)
    if named:
        return named
    for key in (compute.capabilities.catalog, compute.provider):
        if key in _SMALL_TYPES:
            return _SMALL_TYPES[key]
    pytest.skip(
        f"no known instance type for {compute.provider}: set {INSTANCE_TYPE_ENV} to a small one"
    )


def unique(prefix: str = "conf") -> str:
    """A fresh name (a valid instance name and tag value)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def terminated_or_gone(compute: portacloud.Compute, instance_id: str) -> InstanceState | None:
    """Wait until the instance is TERMINATED (``None`` if the backend forgot it already)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            state = compute.get(instance_id).state
        except NotFoundError:
            return None
        if state is InstanceState.TERMINATED:
            return state
        assert state is InstanceState.TERMINATING, f"{instance_id} is {state} after terminate"
        if time.monotonic() > deadline:
            raise AssertionError(f"{instance_id} still {state} after {WAIT} s")
        time.sleep(1.0)


@pytest.fixture
def launch(compute: portacloud.Compute) -> Iterator[Launch]:
    """Create instances (``launch(**spec_fields)``) that are terminated after the test.

    Without ``resources`` or ``instance_type`` the instance is created by name with
    :func:`instance_type_for`; the run tag is added to whatever tags are given.
    """
    created: list[str] = []

    def _launch(**fields: Any) -> Instance:
        spec: dict[str, Any] = {"name": unique()}
        if "resources" not in fields and "instance_type" not in fields:
            spec["instance_type"] = instance_type_for(compute)
        spec.update(fields)
        spec["tags"] = {RUN_TAG: RUN_ID, **fields.get("tags", {})}
        instance = compute.create(spec)
        created.append(instance.id)
        return instance

    yield _launch
    for instance_id in created:
        try:
            compute.terminate(instance_id)
        except NotFoundError:
            pass  # already gone: some backends forget terminated instances
        except PortaCloudError as exc:
            warnings.warn(
                f"conformance cleanup could not terminate {instance_id} on {compute.url}: {exc}",
                stacklevel=1,
            )

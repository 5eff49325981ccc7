"""Create, start, stop and terminate, with one set of states everywhere."""

from __future__ import annotations

from datetime import datetime

import pytest

import portacloud
from portacloud import FailedPreconditionError, InstanceState, NotFoundError
from portacloud_conformance.compute import support
from portacloud_conformance.compute.support import (
    WAIT,
    Launch,
    instance_type_for,
    require,
    terminated_or_gone,
)

#: The suite's fixture that terminates what a test creates.
launch = support.launch


def test_create_reaches_running(compute: portacloud.Compute, launch: Launch) -> None:
    created = launch()
    assert created.state in (InstanceState.PENDING, InstanceState.RUNNING)
    assert created.provider == compute.provider
    running = compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT)
    assert running.id == created.id
    assert running.billing is True
    assert running.instance_type == instance_type_for(compute)
    assert isinstance(running.created_at, datetime)
    assert running.created_at.tzinfo is not None


def test_get_describes_what_create_made(compute: portacloud.Compute, launch: Launch) -> None:
    created = launch()
    got = compute.get(created.id)
    assert got.id == created.id
    assert got.name == created.name
    assert got.instance_type == created.instance_type
    assert dict(got.tags) == dict(created.tags)


def test_stop_reaches_stopped_and_start_runs_again(
    compute: portacloud.Compute, launch: Launch
) -> None:
    require(compute, "stop")
    created = launch()
    compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT)
    stopping = compute.stop(created.id)
    assert stopping.state in (InstanceState.STOPPING, InstanceState.STOPPED)
    stopped = compute.wait(created.id, InstanceState.STOPPED, timeout=WAIT)
    assert isinstance(stopped.billing, bool)
    starting = compute.start(created.id)
    assert starting.state in (InstanceState.PENDING, InstanceState.RUNNING)
    assert compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT).billing is True


def test_stopping_a_stopped_instance_is_fine(compute: portacloud.Compute, launch: Launch) -> None:
    require(compute, "stop")
    created = launch()
    compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT)
    compute.stop(created.id)
    compute.wait(created.id, InstanceState.STOPPED, timeout=WAIT)
    again = compute.stop(created.id)
    assert again.state in (InstanceState.STOPPING, InstanceState.STOPPED)
    assert compute.wait(created.id, InstanceState.STOPPED, timeout=WAIT).id == created.id


def test_terminating_twice_is_fine(compute: portacloud.Compute, launch: Launch) -> None:
    created = launch()
    compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT)
    first = compute.terminate(created.id)
    assert first.state in (InstanceState.TERMINATING, InstanceState.TERMINATED)
    assert first.billing is False
    final = terminated_or_gone(compute, created.id)
    second = compute.terminate(created.id)
    if final is not None:
        assert second.state is InstanceState.TERMINATED
        assert second.billing is False


@pytest.mark.parametrize("operation", ["stop", "start"])
def test_stop_or_start_after_terminate_fails(
    compute: portacloud.Compute, launch: Launch, operation: str
) -> None:
    require(compute, "stop")
    created = launch()
    compute.terminate(created.id)
    terminated_or_gone(compute, created.id)
    with pytest.raises((FailedPreconditionError, NotFoundError)):
        getattr(compute, operation)(created.id)


def test_spot_instances_are_marked_spot(compute: portacloud.Compute, launch: Launch) -> None:
    require(compute, "spot")
    created = launch(spot=True)
    running = compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT)
    assert running.spot is True


def test_ssh_public_key_is_accepted(compute: portacloud.Compute, launch: Launch) -> None:
    require(compute, "ssh_keys")
    key = (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
        "conformance@portacloud"
    )
    first = launch(ssh_public_key=key)
    second = launch(ssh_public_key=key)  # the same key twice must not clash
    for created in (first, second):
        assert compute.wait(created.id, InstanceState.RUNNING, timeout=WAIT).id == created.id

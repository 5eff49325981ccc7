"""The one table from libcloud node states to portable instance states and billing.

libcloud folds each cloud's states into its 15 ``NodeState`` values and loses distinctions on
the way: GCE ``STOPPING`` becomes ``PENDING``, GCE ``TERMINATED`` (a *stopped* VM that keeps
its disk) becomes ``STOPPED``, EC2 ``stopping`` and ``shutting-down`` become ``UNKNOWN``, Azure
``PowerState/deallocating`` becomes ``PENDING`` and Azure ``PowerState/stopped`` (stopped but
still allocated, so still billed) becomes ``PAUSED``. So the table is keyed by
``(driver, native status)`` first, where the driver keeps the cloud's own status
(:func:`native_status`), and by ``("*", NodeState)`` for every other driver.

``billing`` says whether the instance itself is charged in that state, per the cloud's
documentation: on EC2 only ``running`` bills; GCE bills from ``RUNNING`` until the VM is
``TERMINATED`` (stopped) or ``SUSPENDED``; Azure bills while the VM is allocated, ``stopped``
included, and stops at ``deallocated``. Disks bill in every state but deleted, which the flag
does not cover. Where a cloud's billing is not known, a state that holds the VM (or one that
cannot be read) counts as billing, so that leak hunting shows it rather than hides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portacloud.compute.models import InstanceState

__all__ = ["STATES", "instance_state", "native_status"]

_S = InstanceState

#: (libcloud driver name, the cloud's own status) or ("*", libcloud NodeState value)
#: -> (portable state, whether the instance bills).
STATES: Mapping[tuple[str, str], tuple[InstanceState, bool]] = {
    # EC2 (instanceState/name); billing per AWS "instance state and billing".
    ("ec2", "pending"): (_S.PENDING, False),
    ("ec2", "running"): (_S.RUNNING, True),
    ("ec2", "stopping"): (_S.STOPPING, False),
    ("ec2", "stopped"): (_S.STOPPED, False),
    ("ec2", "shutting-down"): (_S.TERMINATING, False),
    ("ec2", "terminated"): (_S.TERMINATED, False),
    # GCE (instance status). TERMINATED is GCE's word for a stopped VM that keeps its disks.
    ("gce", "PROVISIONING"): (_S.PENDING, False),
    ("gce", "STAGING"): (_S.PENDING, False),
    ("gce", "PENDING"): (_S.PENDING, False),
    ("gce", "RUNNING"): (_S.RUNNING, True),
    ("gce", "PENDING_STOP"): (_S.STOPPING, True),
    ("gce", "STOPPING"): (_S.STOPPING, True),
    ("gce", "SUSPENDING"): (_S.STOPPING, True),
    ("gce", "SUSPENDED"): (_S.STOPPED, False),
    ("gce", "REPAIRING"): (_S.PENDING, False),
    ("gce", "TERMINATED"): (_S.STOPPED, False),
    # Azure Resource Manager (instance view codes; provisioning first, then power).
    ("azure_arm", "ProvisioningState/creating"): (_S.PENDING, True),
    ("azure_arm", "ProvisioningState/failed"): (_S.ERROR, True),
    ("azure_arm", "ProvisioningState/deleting"): (_S.TERMINATING, False),
    ("azure_arm", "PowerState/starting"): (_S.PENDING, True),
    ("azure_arm", "PowerState/running"): (_S.RUNNING, True),
    ("azure_arm", "PowerState/stopping"): (_S.STOPPING, True),
    ("azure_arm", "PowerState/stopped"): (_S.STOPPED, True),
    ("azure_arm", "PowerState/deallocating"): (_S.STOPPING, True),
    ("azure_arm", "PowerState/deallocated"): (_S.STOPPED, False),
    # OpenStack Nova. libcloud's state follows Nova's summary "status" and is kept, except
    # where a running task or the vm_state says more: a server keeps status ACTIVE while it
    # powers off, and SHELVED_OFFLOADED is unknown to libcloud. A stopped (SHUTOFF) server
    # keeps its host resources, and most OpenStack clouds bill it; an offloaded one does not.
    ("openstack", "task:powering-on"): (_S.PENDING, True),
    ("openstack", "task:powering-off"): (_S.STOPPING, True),
    ("openstack", "task:shelving"): (_S.STOPPING, True),
    ("openstack", "task:shelving_offloading"): (_S.STOPPING, True),
    ("openstack", "task:deleting"): (_S.TERMINATING, False),
    ("openstack", "vm:stopped"): (_S.STOPPED, True),
    ("openstack", "vm:suspended"): (_S.STOPPED, True),
    ("openstack", "vm:paused"): (_S.STOPPED, True),
    ("openstack", "vm:shelved"): (_S.STOPPED, True),
    ("openstack", "vm:shelved_offloaded"): (_S.STOPPED, False),
    ("openstack", "vm:soft-deleted"): (_S.TERMINATING, False),
    ("openstack", "vm:deleted"): (_S.TERMINATED, False),
    # Any driver, by libcloud's NodeState.
    ("*", "pending"): (_S.PENDING, True),
    ("*", "starting"): (_S.PENDING, True),
    ("*", "running"): (_S.RUNNING, True),
    ("*", "rebooting"): (_S.RUNNING, True),
    ("*", "reconfiguring"): (_S.RUNNING, True),
    ("*", "migrating"): (_S.RUNNING, True),
    ("*", "updating"): (_S.RUNNING, True),
    ("*", "normal"): (_S.RUNNING, True),
    ("*", "stopping"): (_S.STOPPING, True),
    ("*", "stopped"): (_S.STOPPED, False),
    ("*", "suspended"): (_S.STOPPED, False),
    # libcloud's PAUSED is Azure's "stopped, still allocated", and a paused VM elsewhere
    # (libvirt, OpenStack) still holds its host: it bills.
    ("*", "paused"): (_S.STOPPED, True),
    ("*", "terminated"): (_S.TERMINATED, False),
    ("*", "error"): (_S.ERROR, True),
    ("*", "unknown"): (_S.UNKNOWN, True),
}


def native_status(driver: str, node: Any, azure_codes: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The cloud's own statuses of a libcloud ``Node`` where libcloud keeps them, most telling
    first; :func:`instance_state` uses the first one :data:`STATES` knows.

    Args:
        driver: The libcloud driver name (``ec2``, ``gce``, ``azure_arm``, ``openstack``).
        node: The libcloud ``Node``.
        azure_codes: For ``azure_arm``, the status codes of the VM's instance view (libcloud
            reads them but keeps only its folded state).
    """
    extra = getattr(node, "extra", None) or {}
    if driver in ("ec2", "gce"):
        status = extra.get("status")
        return (str(status),) if status else ()
    if driver == "azure_arm":
        power = tuple(c for c in azure_codes if c.startswith("PowerState/"))
        # "failed/<reason>": the reason does not change the state.
        provisioning = tuple(
            "/".join(c.split("/")[:2]) for c in azure_codes if c.startswith("ProvisioningState/")
        )
        # A VM being updated is still what its power state says.
        settled = ("ProvisioningState/succeeded", "ProvisioningState/updating")
        return tuple(c for c in provisioning if c not in settled) + power
    if driver == "openstack":
        task, vm = extra.get("task_state"), extra.get("vm_state")
        return tuple(f"{kind}:{value}" for kind, value in (("task", task), ("vm", vm)) if value)
    return ()


def instance_state(driver: str, node: Any, statuses: tuple[str, ...]) -> tuple[InstanceState, bool]:
    """Map a node onto the portable state and billing flag through :data:`STATES`.

    The first of the cloud's own ``statuses`` that the table knows wins; otherwise libcloud's
    ``NodeState``; a value neither knows is UNKNOWN and counted as billing.
    """
    for status in statuses:
        found = STATES.get((driver, status))
        if found is not None:
            return found
    state = getattr(node, "state", None)
    value = str(getattr(state, "value", state) or "unknown").lower()
    return STATES.get(("*", value), STATES[("*", "unknown")])

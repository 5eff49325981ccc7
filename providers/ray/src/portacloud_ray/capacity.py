"""What the Ray cluster's nodes offer, and whether a request could ever fit on one of them.

Jobs and services both refuse up front a request that no alive node could ever hold (more
GPUs, CPUs or memory than the biggest node has), instead of leaving it pending forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from portacloud.resources import Resources

__all__ = ["GIB", "Node", "never_fits", "read_nodes"]

GIB = 2**30


@dataclass(frozen=True)
class Node:
    """What one alive Ray node offers."""

    gpus: float
    cpus: float
    memory: float


def read_nodes(address: str, *, timeout: float) -> list[Node]:
    """The alive nodes and their total resources, from the dashboard's State API."""
    from ray.util.state import list_nodes

    nodes = []
    listed = list_nodes(
        address=address,
        detail=True,
        raise_on_missing_output=False,
        timeout=max(1, int(timeout)),
    )
    for node in listed:
        if node.state != "ALIVE":
            continue
        total = node.resources_total or {}
        nodes.append(
            Node(
                gpus=float(total.get("GPU", 0.0)),
                cpus=float(total.get("CPU", 0.0)),
                memory=float(total.get("memory", 0.0)),
            )
        )
    return nodes


def _gib(value: float) -> str:
    return f"{value / GIB:.1f} GiB"


def never_fits(nodes: list[Node], res: Resources) -> str | None:
    """Why no node could ever hold one process asking for ``res``, or ``None``."""
    gpus, cpus = res.gpu_count, res.cpus or 0.0
    memory = (res.memory_gb or 0.0) * GIB
    if any(n.gpus >= gpus and n.cpus >= cpus and n.memory >= memory for n in nodes):
        return None
    if not nodes:
        return "the Ray cluster has no alive node"
    wanted = [f"{gpus} GPU(s)"] if gpus else []
    wanted += [f"{cpus:g} CPU(s)"] if res.cpus else []
    wanted += [_gib(memory)] if res.memory_gb else []
    biggest = ", ".join(f"{n.gpus:g} GPU(s)/{n.cpus:g} CPU(s)/{_gib(n.memory)}" for n in nodes[:8])
    return (
        f"asks for {' and '.join(wanted) or 'resources'} on one node; "
        f"the Ray cluster's nodes have {biggest}"
    )

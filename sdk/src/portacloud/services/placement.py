"""Launchers that place replicas themselves: a port and GPUs chosen before the start.

``local://`` picks each replica's port and GPUs on this machine before starting it; Slurm
lets the scheduler and the replica choose. A launcher that also implements :class:`Placer`
is asked for a :class:`Placement` before every start and told when the replica's resources
are free again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Placement", "Placer"]


@dataclass(frozen=True)
class Placement:
    """Where one replica runs.

    Attributes:
        port: The port it listens on (``$PORT``).
        gpus: The GPU indexes it gets (``CUDA_VISIBLE_DEVICES``).
    """

    port: int | None
    gpus: tuple[int, ...] = ()


@runtime_checkable
class Placer(Protocol):
    """Chooses and frees the resources of replicas."""

    def place(self, replica: str, gpus: int) -> Placement | None:
        """A placement for ``replica`` with ``gpus`` GPUs, or ``None`` to try again later."""

    def release(self, replica: str) -> None:
        """Free what :meth:`place` gave ``replica`` (a no-op if it holds nothing)."""

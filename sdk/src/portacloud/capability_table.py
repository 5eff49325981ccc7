"""The base of every capability table (storage, jobs, compute): data, not code paths.

A backend says what it can do in one frozen model whose fields are flags and limits; portable
types refuse what a backend lacks by naming the field (``capability gpus is false``), and the
conformance suite skips on the same names.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["CapabilityTable"]


class CapabilityTable(BaseModel):
    """Frozen, with unknown names refused, and the backend's own notes.

    Attributes:
        notes: Where the backend departs from the real thing it stands in for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    notes: tuple[str, ...] = ()

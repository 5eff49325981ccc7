"""The progress events of a migration's phases, each kind built in one place."""

from __future__ import annotations

from collections.abc import Callable

from portacloud.migrate.journal import JournalRow
from portacloud.migrate.models import MigrationEvent, Phase

__all__ = ["EventSink", "failed", "object_done", "phase_started"]

#: Receives the events; runs on the engine's threads.
EventSink = Callable[[MigrationEvent], None]


def phase_started(phase: Phase, totals: tuple[int, int] | None = None) -> MigrationEvent:
    """A phase starts, covering ``totals`` (objects, bytes) when they are known."""
    objects, size = (None, None) if totals is None else totals
    return MigrationEvent(kind="phase", phase=phase, objects_total=objects, bytes_total=size)


def object_done(phase: Phase, row: JournalRow, *, moved: int | None = None) -> MigrationEvent:
    """One key finished ``phase`` in the state its row records.

    Args:
        phase: The phase.
        row: The key's new row.
        moved: The bytes to report; the row's size by default.
    """
    return MigrationEvent(
        kind="object",
        phase=phase,
        key=row.key,
        action=row.action,
        state=row.state,
        bytes=row.size if moved is None else moved,
    )


def failed(phase: Phase, key: str, message: str | None) -> MigrationEvent:
    """One key failed ``phase``."""
    return MigrationEvent(kind="failed", phase=phase, key=key, message=message)

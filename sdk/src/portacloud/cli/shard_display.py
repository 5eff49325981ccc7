"""``portacloud migrate --on QUEUE``: a sharded migration, shown like a single-process one.

On a terminal: a bar over all shards and one per shard (objects, bytes, rate, ETA) on
stderr. Piped: JSON lines on stdout (``shard-plan``, ``forward-env``, ``shards`` at most every
few seconds and on every change of a shard's state, ``summary``, ``receipt``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from rich.filesize import decimal
from rich.markup import escape
from rich.table import Table

from portacloud.cli.output import err_console
from portacloud.migrate.cluster import ShardedResult
from portacloud.migrate.shard_watch import ShardsProgress
from portacloud.migrate.shards import ShardPlan

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = [
    "JsonShards",
    "TerminalShards",
    "migration_progress",
    "print_result",
    "print_status",
    "shard_plan_table",
]

_PROGRESS_EVERY_S = 5.0
_FAILURES_SHOWN = 20


def _write(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def progress_record(progress: ShardsProgress) -> dict[str, Any]:
    """A progress report as one JSON object."""
    record: dict[str, Any] = progress.model_dump(mode="json", exclude={"shards"})
    record["shards"] = [
        s.model_dump(mode="json", include={"index", "state", "attempt", "objects", "bytes"})
        for s in progress.shards
    ]
    return {"event": "shards", **record}


class JsonShards:
    """Progress as JSON lines: every few seconds, and whenever a shard changes state."""

    def __init__(self) -> None:
        self._last = 0.0
        self._states: tuple[str, ...] = ()

    def write(self, record: dict[str, Any]) -> None:
        """One JSON line on stdout."""
        _write(record)

    def __call__(self, progress: ShardsProgress) -> None:
        states = tuple(s.state for s in progress.shards)
        now = time.monotonic()
        if states != self._states or now - self._last >= _PROGRESS_EVERY_S or progress.finished:
            self._states, self._last = states, now
            _write(progress_record(progress))


def migration_progress(*, label_width: int, console: Console) -> Progress:
    """The bars of a migration on ``console``: label, bar, objects done/total, bytes, rate,
    time left."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn(f"[progress.description]{{task.description:<{label_width}}}"),
        BarColumn(),
        TextColumn("{task.fields[objects]:>7}/{task.fields[objects_total]} objects"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class TerminalShards:
    """Progress drawn with rich on stderr: all shards together, then one bar per shard."""

    def __init__(self) -> None:
        self.progress = migration_progress(label_width=18, console=err_console)
        self._tasks: dict[int, Any] = {}

    def __enter__(self) -> TerminalShards:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def _bar(
        self, key: int, description: str, done: tuple[int, int], total: tuple[int, int]
    ) -> None:
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(
                description, total=total[1] or 1, objects=done[0], objects_total=total[0]
            )
        self.progress.update(
            self._tasks[key],
            description=description,
            completed=done[1],
            total=total[1] or 1,
            objects=done[0],
            objects_total=total[0],
        )

    def __call__(self, progress: ShardsProgress) -> None:
        self._bar(
            -1,
            f"all ({progress.job_state or 'done'})",
            (progress.objects, progress.bytes),
            (progress.objects_total, progress.bytes_total),
        )
        for s in progress.shards:
            total = (s.objects_total or 0, s.bytes_total or 0)
            label = f"shard {s.index} {s.state}" + (f" #{s.attempt}" if s.attempt > 1 else "")
            self._bar(s.index, label, (s.objects, s.bytes), total)


def shard_plan_table(plan: ShardPlan) -> Table:
    """The shards: key range, objects, bytes and estimated cost of each."""
    table = Table(title=f"{len(plan.shards)} shards")
    for column in ("shard", "after", "up to", "objects", "bytes", "est. cost"):
        table.add_column(column, justify="right" if column not in ("after", "up to") else "left")
    for s in plan.shards:
        cost = s.cost.total_usd
        table.add_row(
            str(s.index),
            escape(s.key_range.after or "(start)"),
            escape(s.key_range.upto or "(end)"),
            str(s.objects),
            decimal(s.bytes),
            "unknown" if cost is None else f"${cost:.4f}",
        )
    return table


def shard_plan_record(plan: ShardPlan) -> dict[str, Any]:
    """The shard plan as one JSON object."""
    return {"event": "shard-plan", **plan.model_dump(mode="json")}


def print_result(result: ShardedResult) -> None:
    """The summary of a sharded run on stderr."""
    if result.dry_run:
        err_console.print(shard_plan_table(result.plan))
        err_console.print("dry run: nothing was submitted or written")
        return
    table = Table(title=f"{len(result.plan.shards)} shards on {escape(result.on)}")
    for column in ("copied", "bytes", "skipped", "verified", "failed", "elapsed"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.copied),
        decimal(result.bytes_copied),
        str(result.skipped),
        str(result.verified),
        str(len(result.failures)),
        f"{result.elapsed_s:.1f} s",
    )
    err_console.print(table)
    for failure in result.failures[:_FAILURES_SHOWN]:
        err_console.print(f"[red]failed[/] {escape(failure.key)}: {escape(failure.message)}")
    if len(result.failures) > _FAILURES_SHOWN:
        err_console.print(f"... and {len(result.failures) - _FAILURES_SHOWN} more")
    if result.receipt:
        err_console.print(f"receipt: {escape(result.receipt)}")
        err_console.print(f"receipt sha256: {result.receipt_sha256}")
    elif result.failures:
        err_console.print("no receipt: some shards did not finish; rerun the same command")


def print_status(progress: ShardsProgress | None, *, json_lines: bool) -> None:
    """``migrate --status``: where the shards stand."""
    if progress is None:
        message = "no sharded migration of these URLs in this state"
        if json_lines:
            _write({"event": "status", "found": False, "message": message})
        else:
            err_console.print(message)
        return
    if json_lines:
        _write({**progress_record(progress), "event": "status", "found": True})
        return
    table = Table(title="sharded migration")
    for column in ("shard", "state", "attempt", "objects", "bytes"):
        table.add_column(column, justify="right")
    for s in progress.shards:
        objects = f"{s.objects}/{s.objects_total if s.objects_total is not None else '?'}"
        table.add_row(str(s.index), s.state, str(s.attempt), objects, decimal(s.bytes))
    err_console.print(table)
    err_console.print(
        f"all: {progress.objects}/{progress.objects_total} objects, "
        f"{decimal(progress.bytes)}/{decimal(progress.bytes_total)}"
    )

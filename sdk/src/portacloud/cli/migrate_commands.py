"""``migrate`` and ``verify``: move a bucket between backends, and re-check it later.

On a terminal the commands draw a progress bar and tables on stderr; otherwise they write one
JSON object per line on stdout (``journal``, ``plan``, ``phase``, ``failed``, ``progress``
at most every few seconds, ``summary``, ``receipt``), so that scripts and CI logs stay quiet and
parseable.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from rich.filesize import decimal
from rich.markup import escape
from rich.table import Table

from portacloud.cli.output import err_console, out_console
from portacloud.cli.shard_commands import (
    refuse_without_queue,
    run_sharded_command,
    sharding_options,
)
from portacloud.cli.shard_display import migration_progress
from portacloud.cli.targets import cli_profile, refuse_in_process_schemes
from portacloud.migrate.engine import DEFAULT_CONCURRENCY, DEFAULT_MAX_DELETE
from portacloud.migrate.models import (
    MigrationEvent,
    MigrationPlan,
    MigrationResult,
    Phase,
    VerifyResult,
)

__all__ = ["migrate", "verify"]

_F = TypeVar("_F", bound=Callable[..., Any])

_PROGRESS_EVERY_S = 5.0
_FAILURES_SHOWN = 20


def _json_mode(forced: bool) -> bool:
    return forced or not out_console.is_terminal


# ---------------------------------------------------------------------- JSON lines


class _JsonLines:
    """Events as JSON lines on stdout: the few that matter, and progress now and then."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._phase: Phase | None = None
        self._objects = 0
        self._bytes = 0
        self._totals: tuple[int | None, int | None] = (None, None)
        self._last = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._stream.flush()

    def __call__(self, event: MigrationEvent) -> None:
        if event.kind == "journal":
            self.write({"event": "journal", "path": event.message})
        elif event.kind == "plan" and event.message:
            self.write({"event": "plan", **json.loads(event.message)})
        elif event.kind == "phase":
            self._progress(force=True)
            with self._lock:
                self._phase, self._objects, self._bytes = event.phase, 0, 0
                self._totals = (event.objects_total, event.bytes_total)
            self.write(
                {
                    "event": "phase",
                    "phase": event.phase,
                    "objects": event.objects_total,
                    "bytes": event.bytes_total,
                }
            )
        elif event.kind == "warning":
            self.write({"event": "warning", "phase": event.phase, "message": event.message})
        elif event.kind in ("failed", "replanned"):
            self.write(
                {
                    "event": event.kind,
                    "phase": event.phase,
                    "key": event.key,
                    "message": event.message,
                }
            )
        elif event.kind in ("object", "bytes"):
            with self._lock:
                self._objects += event.objects if event.kind == "object" else 0
                self._bytes += event.bytes
            self._progress()

    def _progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = self._phase is not None and (force or now - self._last >= _PROGRESS_EVERY_S)
            if due:
                self._last = now
                record = {
                    "event": "progress",
                    "phase": self._phase,
                    "objects": self._objects,
                    "objects_total": self._totals[0],
                    "bytes": self._bytes,
                    "bytes_total": self._totals[1],
                }
        if due and (self._objects or self._bytes):
            self.write(record)

    def finish(self) -> None:
        self._progress(force=True)
        self._phase = None


# ---------------------------------------------------------------------- terminal


class _Terminal:
    """Events drawn with rich on stderr: a bar per phase, failures as they happen."""

    def __init__(self, *, show_plan: bool = True) -> None:
        self._show_plan = show_plan
        self.progress = migration_progress(label_width=8, console=err_console)
        self._task: Any = None
        self._lock = threading.Lock()
        self._objects = 0

    def __enter__(self) -> _Terminal:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def __call__(self, event: MigrationEvent) -> None:
        console = self.progress.console
        if event.kind == "journal":
            console.print(f"journal: {escape(event.message or '')}")
        elif event.kind == "plan" and event.message and self._show_plan:
            plan = MigrationPlan.model_validate_json(event.message)
            console.print(f"plan: {escape(plan.src)} -> {escape(plan.dst)}")
            console.print(plan_table(plan))
        elif event.kind == "phase" and event.phase in (Phase.COPY, Phase.VERIFY, Phase.DELETE):
            with self._lock:
                if self._task is not None:
                    self.progress.update(self._task, completed=self.progress.tasks[-1].total)
                self._objects = 0
                self._task = self.progress.add_task(
                    event.phase.value,
                    total=event.bytes_total or 0,
                    objects=0,
                    objects_total=event.objects_total or 0,
                )
        elif event.kind == "failed":
            console.print(
                f"[red]failed[/] {escape(event.key or '')}: {escape(event.message or '')}",
                markup=True,
            )
        elif event.kind == "warning":
            console.print(f"[yellow]warning[/] {escape(event.message or '')}", markup=True)
        elif event.kind in ("object", "bytes") and self._task is not None:
            with self._lock:
                if event.kind == "object":
                    self._objects += event.objects
                self.progress.update(self._task, advance=event.bytes, objects=self._objects)


# ---------------------------------------------------------------------- tables


def plan_table(plan: MigrationPlan) -> Table:
    """The plan as a table: objects and bytes per action, then the estimated cost."""
    table = Table()
    table.add_column("action")
    table.add_column("objects", justify="right")
    table.add_column("bytes", justify="right")
    rows = [("copy", plan.copies), ("overwrite", plan.overwrites), ("skip", plan.skips)]
    rows.append(("delete", plan.deletes) if plan.deletes.objects else ("kept extra", plan.extras))
    for name, totals in rows:
        table.add_row(name, f"{totals.objects:,}", decimal(totals.bytes))
    cost = plan.cost
    total = "unknown" if cost.total_usd is None else f"${cost.total_usd:,.4f}"
    egress = "unknown" if cost.egress_usd is None else f"${cost.egress_usd:,.4f}"
    requests = "unknown" if cost.request_usd is None else f"${cost.request_usd:,.4f}"
    prices = "; ".join(
        f"{p.provider}: {p.service}, as of {p.as_of} ({p.source})" for p in cost.prices
    )
    region = plan.dst_region or "unknown (the backend does not report it)"
    table.caption = (
        f"destination region {region}\n"
        f"estimated cost {total} = egress {decimal(cost.egress_bytes)} {egress} + "
        f"{cost.source_requests + cost.destination_requests:,} requests {requests}\n"
        f"prices: {prices}" + "".join(f"\nwarning: {w}" for w in plan.warnings)
    )
    table.caption_justify = "left"
    return table


def _summary_table(result: MigrationResult) -> Table:
    table = Table(title="summary", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rate = result.bytes_copied / result.elapsed_s if result.elapsed_s > 0 else 0.0
    for name, value in (
        ("copied", f"{result.copied:,} ({decimal(result.bytes_copied)})"),
        ("skipped (identical)", f"{result.skipped:,}"),
        ("verified", f"{result.verified:,}"),
        ("deleted", f"{result.deleted:,}"),
        ("re-planned (changed mid-run)", f"{result.replanned:,}"),
        ("gone at the source", f"{result.gone:,}"),
        ("failed", f"{len(result.failures):,}"),
        ("time", f"{result.elapsed_s:.1f} s ({decimal(int(rate))}/s)"),
    ):
        table.add_row(name, value)
    return table


def _result_record(result: MigrationResult) -> dict[str, Any]:
    record: dict[str, Any] = result.model_dump(mode="json", exclude={"plan"})
    record["ok"] = result.ok
    return record


# ---------------------------------------------------------------------- commands


def _concurrency_option(help_text: str) -> Callable[[_F], _F]:
    """``-j/--concurrency``: objects handled at a time, as ``help_text`` says."""
    return click.option(
        "-j",
        "--concurrency",
        type=click.IntRange(min=1, max=1024),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help=help_text,
    )


_JSON_OPTION = click.option(
    "--json", "json_lines", is_flag=True, help="JSON lines on stdout even on a terminal."
)


@click.command("migrate")
@click.argument("src")
@click.argument("dst")
@click.option(
    "--dry-run", is_flag=True, help="Print the plan and its estimated cost; touch nothing."
)
@click.option(
    "--delete", is_flag=True, help="Delete destination objects that are not at the source."
)
@click.option(
    "--max-delete",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_DELETE,
    show_default=True,
    help="Refuse to start if the plan deletes more objects than this (without --force).",
)
@click.option("--force", is_flag=True, help="Allow more deletions than --max-delete.")
@_concurrency_option("Objects copied at a time.")
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Journal file (SQLite); default: one per SRC/DST pair under $PORTACLOUD_HOME.",
)
@click.option(
    "--receipt",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Receipt file (JSON lines); default: beside the journal.",
)
@_JSON_OPTION
@sharding_options
def migrate(
    *,
    src: str,
    dst: str,
    dry_run: bool,
    delete: bool,
    max_delete: int,
    force: bool,
    concurrency: int,
    journal: Path | None,
    receipt: Path | None,
    json_lines: bool,
    **sharding: Any,
) -> None:
    """Copy every object under SRC to DST: plan, copy, verify, receipt.

    SRC and DST are bucket URLs of any two backends, prefixes allowed. Rerunning the same
    command after an interruption (even kill -9) continues where it stopped. --on: a job array.
    """
    for url in (src, dst):
        refuse_in_process_schemes(url)
    if sharding["on"] or sharding["status"]:
        run_sharded_command(
            src=src,
            dst=dst,
            options={**sharding, "dry_run": dry_run, "concurrency": concurrency},
            single_process_only={"--delete": delete, "--journal": journal is not None},
            json_lines=_json_mode(json_lines),
            receipt=receipt,
        )
        return
    refuse_without_queue(sharding)
    from portacloud.migrate.engine import migrate as run_migration

    options: dict[str, Any] = {
        "dry_run": dry_run,
        "delete": delete,
        "max_delete": max_delete,
        "force": force,
        "concurrency": concurrency,
        "journal": journal,
        "receipt": receipt,
        "profile": cli_profile(),
    }
    if _json_mode(json_lines):
        sink = _JsonLines()
        result = run_migration(src, dst, on_event=sink, **options)
        sink.finish()
        sink.write({"event": "summary", **_result_record(result)})
        if result.receipt:
            sink.write(
                {"event": "receipt", "path": result.receipt, "sha256": result.receipt_sha256}
            )
    else:
        with _Terminal() as screen:
            result = run_migration(src, dst, on_event=screen, **options)
        _print_result(result)
    if not result.ok:
        sys.exit(1)


def _print_result(result: MigrationResult) -> None:
    if result.dry_run:
        err_console.print("dry run: nothing was written")
        return
    err_console.print(_summary_table(result))
    for failure in result.failures[:_FAILURES_SHOWN]:
        err_console.print(f"[red]failed[/] {escape(failure.key)}: {escape(failure.message)}")
    if len(result.failures) > _FAILURES_SHOWN:
        err_console.print(
            f"... and {len(result.failures) - _FAILURES_SHOWN} more; see the journal "
            f"{escape(result.journal or '')}"
        )
    if result.receipt:
        err_console.print(f"receipt: {escape(result.receipt)}")
        err_console.print(f"receipt sha256: {result.receipt_sha256}")
    elif result.failures:
        err_console.print("no receipt: some objects did not finish; rerun the same command")


@click.command("verify")
@click.argument("urls", nargs=-1, required=True, metavar="[SRC] DST")
@click.option(
    "--deep/--quick",
    default=True,
    show_default=True,
    help="--deep reads and hashes every destination object; --quick trusts the CRC32C it records.",
)
@click.option(
    "--receipt",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also check DST against this receipt (SRC may then be omitted).",
)
@click.option("--receipt-sha256", help="The SHA-256 the receipt file must have.")
@_concurrency_option("Objects read at a time.")
@_JSON_OPTION
def verify(
    *,
    urls: tuple[str, ...],
    deep: bool,
    receipt: Path | None,
    receipt_sha256: str | None,
    concurrency: int,
    json_lines: bool,
) -> None:
    """Re-check a migration: every SRC object must be at DST with the same CRC32C.

    Exits 1 on any difference, naming each key with both checksums.
    """
    from portacloud.migrate.engine import verify as run_verify

    if len(urls) > 2 or (len(urls) == 1 and receipt is None):
        raise click.UsageError("verify takes SRC DST, or DST with --receipt")
    src, dst = (urls[0], urls[1]) if len(urls) == 2 else (None, urls[0])
    for url in urls:
        refuse_in_process_schemes(url)
    options: dict[str, Any] = {
        "deep": deep,
        "concurrency": concurrency,
        "receipt": receipt,
        "receipt_sha256": receipt_sha256,
        "profile": cli_profile(),
    }
    result: VerifyResult
    if _json_mode(json_lines):
        sink = _JsonLines()
        result = run_verify(src, dst, on_event=_only_failures(sink), **options)
        for mismatch in result.mismatches:
            sink.write({"event": "mismatch", **mismatch.model_dump(mode="json")})
        sink.write(
            {
                "event": "summary",
                **result.model_dump(mode="json", exclude={"mismatches"}),
                "mismatches": len(result.mismatches),
                "ok": result.ok,
            }
        )
    else:
        with _Terminal() as screen:
            result = run_verify(src, dst, on_event=_without_failures(screen), **options)
        for mismatch in result.mismatches:
            err_console.print(f"[red]mismatch[/] ({mismatch.reason}) {escape(mismatch.message)}")
        verdict = "[green]ok[/]" if result.ok else f"[red]{len(result.mismatches)} mismatch(es)[/]"
        err_console.print(
            f"verify: {verdict}: {result.checked:,} object(s) checked, "
            f"{decimal(result.bytes_read)} read, {result.extra:,} extra at the destination, "
            f"{'deep' if result.deep else 'quick'}, {result.elapsed_s:.1f} s"
        )
        if result.receipt:
            err_console.print(f"receipt sha256: {result.receipt_sha256}")
    if not result.ok:
        sys.exit(1)


def _only_failures(sink: _JsonLines) -> Any:
    # Mismatches are written once, complete, after the run; the stream keeps phases only.
    def forward(event: MigrationEvent) -> None:
        if event.kind != "failed":
            sink(event)

    return forward


def _without_failures(screen: _Terminal) -> Any:
    def forward(event: MigrationEvent) -> None:
        if event.kind != "failed":
            screen(event)

    return forward

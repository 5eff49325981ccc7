"""The options of ``portacloud migrate`` that run it as a job array (``--on``), and ``--status``.

``portacloud migrate SRC DST --on ray://head:8265 --shards 8`` splits the source into key ranges
and runs each as one task of an array job (:mod:`portacloud.migrate.cluster`); ``--status``
shows where such a migration stands, from its state folder.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from portacloud.cli.output import err_console
from portacloud.cli.shard_display import (
    JsonShards,
    TerminalShards,
    print_result,
    print_status,
    shard_plan_record,
)
from portacloud.migrate.cluster import DEFAULT_RETRIES, ShardedResult

#: Shards when --on is given without --shards.
DEFAULT_SHARDS = 4

__all__ = ["refuse_without_queue", "run_sharded_command", "sharding_options"]

_F = TypeVar("_F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--on",
        "on",
        metavar="QUEUE",
        help="Run as a job array on this queue: local://, ray://HOST:PORT, slurm://PARTITION.",
    ),
    click.option(
        "--shards",
        type=click.IntRange(min=1, max=1000),
        help="Key ranges (tasks) for --on (default 4); a rerun keeps the first run's ranges.",
    ),
    click.option(
        "--state",
        metavar="URL",
        help="Where the shards' journals and receipts live (default: the profile's storage "
        "under .portacloud/migrations); never inside SRC or DST.",
    ),
    click.option(
        "--shared-state",
        is_flag=True,
        help="A file:// --state is on a filesystem every worker mounts.",
    ),
    click.option(
        "--forward-env",
        metavar="NAMES",
        default="",
        help="Comma-separated environment variables the tasks need (credentials); never "
        "written into the job spec, a journal, a log or the receipt.",
    ),
    click.option(
        "--python",
        "python",
        metavar="PATH",
        default=sys.executable,
        show_default="this interpreter",
        help="The Python the tasks run (with portacloud and its providers installed).",
    ),
    click.option(
        "--retries",
        type=click.IntRange(min=0, max=10),
        default=DEFAULT_RETRIES,
        show_default=True,
        help="Times the job backend reruns a failed task.",
    ),
    click.option("--status", "status", is_flag=True, help="Show where a sharded migration stands."),
)


def refuse_without_queue(options: dict[str, Any]) -> None:
    """The sharding options mean nothing without --on (or --status)."""
    given = [n for n in ("shards", "state", "forward_env", "shared_state") if options[n]]
    if given:
        named = ", ".join("--" + n.replace("_", "-") for n in given)
        raise click.UsageError(f"{named} go(es) with --on QUEUE (or --status)")


def sharding_options(fn: _F) -> _F:
    """Add the options above to a command."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def run_sharded_command(
    *,
    src: str,
    dst: str,
    options: dict[str, Any],
    single_process_only: dict[str, bool],
    json_lines: bool,
    receipt: Path | None,
) -> None:
    """Run (or show, with ``--status``) a sharded migration; exit 1 when it did not finish.

    ``single_process_only`` names the options given that a sharded run does not take.
    """
    refused = [name for name, given in single_process_only.items() if given]
    if refused:
        raise click.UsageError(f"{', '.join(refused)} do(es) not go with --on or --status")
    from portacloud.cli.targets import cli_profile
    from portacloud.migrate.cluster import migrate_on, shard_status
    from portacloud.migrate.forwarding import forwarded_values, masked

    profile = cli_profile()
    if options["status"]:
        found = shard_status(src, dst, state=options["state"], profile=profile)
        print_status(found, json_lines=json_lines)
        return
    names = [n.strip() for n in options["forward_env"].split(",") if n.strip()]
    shown = masked(forwarded_values(names))
    kwargs: dict[str, Any] = {
        "on": options["on"],
        "shards": options["shards"] or DEFAULT_SHARDS,
        "state": options["state"],
        "forward_env": names,
        "python": options["python"],
        "retries": options["retries"],
        "concurrency": options["concurrency"],
        "dry_run": options["dry_run"],
        "shared_state": options["shared_state"],
        "receipt": receipt,
        "profile": profile,
    }
    if json_lines:
        result = _run_json(src, dst, kwargs, shown)
    else:
        if shown:
            err_console.print("forwarding: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        with TerminalShards() as screen:
            result = migrate_on(src, dst, on_progress=screen, **kwargs)
        print_result(result)
    if not result.ok:
        sys.exit(1)


def _run_json(src: str, dst: str, kwargs: dict[str, Any], shown: dict[str, str]) -> ShardedResult:
    """The run with JSON lines on stdout."""
    from portacloud.migrate.cluster import migrate_on

    sink = JsonShards()
    if shown:
        sink.write({"event": "forward-env", "env": shown})
    result = migrate_on(src, dst, on_progress=sink, **kwargs)
    if result.dry_run:
        sink.write(shard_plan_record(result.plan))
    summary = result.model_dump(mode="json", exclude={"plan", "shards"})
    sink.write({"event": "summary", **summary, "ok": result.ok})
    if result.receipt:
        sink.write({"event": "receipt", "path": result.receipt, "sha256": result.receipt_sha256})
    return result

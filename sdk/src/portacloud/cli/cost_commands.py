"""``portacloud cost``: what ran and what it cost, what a job would cost, budgets enforced."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from portacloud.cli.output import err_console, new_table, out_console

if TYPE_CHECKING:
    from portacloud.jobs.models import JobSpec
    from portacloud.services.models import ServiceSpec

__all__ = ["cost"]


@click.group()
def cost() -> None:
    """Costs from the local ledger, estimates before a run, budget enforcement.

    Prices are list-price estimates, not a bill: see docs/costs.md for where they can be
    wrong.
    """


@cost.command()
@click.option("--profile", "profile", default=None, help="Only this profile's runs.")
@click.option("--since", default=None, metavar="DATE", help="Only since DATE (2026-12-01).")
@click.option(
    "--by", default="profile", show_default=True, metavar="profile|kind|tag:KEY", help="Group."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def report(profile: str | None, since: str | None, by: str, as_json: bool) -> None:
    """Sum the cost ledger: what ran, how long, at what cost (running things up to now)."""
    from portacloud.costs.ledger import Ledger
    from portacloud.costs.report import cost_report, parse_since

    lines = cost_report(
        Ledger(), profile=profile, since=parse_since(since) if since else None, by=by
    )
    if as_json:
        for line in lines:
            click.echo(line.model_dump_json())
        return
    table = new_table(by, "runs", "running", "hours", "cost $")
    for line in lines:
        table.add_row(
            escape(line.key),
            str(line.runs),
            str(line.running),
            f"{line.hours:.3f}",
            f"{line.cost_usd:.2f}",
        )
    out_console.print(table)
    total = sum(line.cost_usd for line in lines)
    err_console.print(f"total ${total:.2f} at list prices (estimates: see docs/costs.md)")


_UNBOUNDED = {
    False: "; no timeout, so one hour is assumed",
    True: "; a service runs until deleted: one hour of it",
}


@cost.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--on",
    "queue_url",
    required=True,
    metavar="URL",
    help="The job queue or service backend it would run on (local://, ray://, slurm://...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def estimate(spec_file: Path, queue_url: str, as_json: bool) -> None:
    """Price the job or service in SPEC_FILE before it runs: a job's price x timeout x array
    size x attempts; a service's (``kind: service``) price per hour at its most replicas."""
    from portacloud.cli.jobs_commands import load_spec_file, open_queue
    from portacloud.cli.serve_commands import open_services_handle
    from portacloud.jobs.queue import parse_spec
    from portacloud.services.services import parse_service_spec

    data = load_spec_file(spec_file)
    spec: JobSpec | ServiceSpec
    service = str(data.get("kind", "")).lower() == "service"
    if service:
        spec = parse_service_spec(data)
        with open_services_handle(queue_url) as services:
            projection = services.estimate(spec)
    else:
        spec = parse_spec(data)
        with open_queue(queue_url) as queue:
            projection = queue.estimate(spec)
    if as_json:
        record = projection.model_dump()
        record["total_usd"] = projection.total_usd
        click.echo(json.dumps(record, indent=2))
        return
    click.echo(f"{projection.total_usd:.2f}")
    err_console.print(
        f"{escape(spec.name)}: {escape(projection.describe())} = ${projection.total_usd:.2f}"
        + ("" if projection.bounded else _UNBOUNDED[service])
    )


@cost.command()
@click.option("--profile", "profile", default=None, help="Only this profile's runs.")
@click.option("--interval", type=click.FloatRange(min=1), default=60.0, show_default=True)
@click.option("--once", is_flag=True, help="Look once and exit.")
def watch(profile: str | None, interval: float, once: bool) -> None:
    """Read everything the ledger says runs; cancel jobs and stop instances over budget."""
    from portacloud.costs.ledger import Ledger
    from portacloud.costs.watch import watch_once

    ledger = Ledger()
    while True:
        for result in watch_once(ledger, profile=profile):
            what = f"{result.entry.kind} {result.entry.id} ({result.entry.name or '-'})"
            if result.error is not None:
                err_console.print(
                    f"[bold red]error:[/] {escape(what)}: {escape(str(result.error))}"
                )
            elif result.stopped:
                err_console.print(
                    f"stopped {escape(what)}: over the budget of profile "
                    f"{escape(result.entry.profile)} (BUDGET_EXCEEDED)"
                )
            else:
                spent = "?" if result.cost is None else f"{result.cost:.2f}"
                click.echo(f"{what}: ${spent} so far")
        if once:
            return
        time.sleep(interval)

"""``portacloud catalog`` and ``portacloud offers``: the instance catalog from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from portacloud.cli.output import err_console, new_table, out_console
from portacloud.compute.catalog import (
    CATALOG_PROVIDERS,
    LOCAL_PROVIDER,
    catalog_region,
    catalog_rows,
    gpu_counts,
    lint_catalog,
    offers,
    parse_resources,
    regions_for,
)
from portacloud.compute.gpus import gpu_models
from portacloud.compute.models import Offer

__all__ = ["catalog", "offers_command"]

# A table longer than this is hard to read; --json and --limit 0 show everything.
_DEFAULT_TABLE_ROWS = 20


@click.group()
def catalog() -> None:
    """The shipped instance catalog and GPU taxonomy."""


@catalog.command("lint")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def lint(path: Path | None) -> None:
    """Check the catalog (the shipped one, or PATH): one line per problem, exit 1 if any."""
    problems = lint_catalog(path)
    for problem in problems:
        click.echo(problem)
    name = str(path) if path else "shipped catalog"
    if problems:
        err_console.print(f"[bold red]{len(problems)} problems[/] in {escape(name)}")
        sys.exit(1)
    err_console.print(f"{escape(name)}: no problems")


@catalog.command("gpus")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def gpus(as_json: bool) -> None:
    """List the canonical GPU names, their memory, aliases and counts per cloud."""
    rows = [
        {**model.model_dump(), "catalog_counts": gpu_counts(model.name)} for model in gpu_models()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = new_table("GPU", "memory", "counts in catalog", "aliases", title="GPU taxonomy")
    for row in rows:
        per_cloud = "; ".join(
            f"{p}: {','.join(map(str, c))}" for p, c in row["catalog_counts"].items()
        )
        table.add_row(
            row["name"],
            f"{row['memory_gb']:g} GB",
            per_cloud or "-",
            escape(", ".join(row["aliases"])),
        )
    out_console.print(table)


@catalog.command("regions")
@click.argument("provider", type=click.Choice([*CATALOG_PROVIDERS, LOCAL_PROVIDER]))
def regions(provider: str) -> None:
    """List the regions the catalog has prices for."""
    for region in regions_for(provider):
        click.echo(region)


@click.command("offers")
@click.option("--gpus", default=None, metavar="TYPE:COUNT", help="A100:8, H100, or a count.")
@click.option("--cpus", type=float, default=None, help="Minimum vCPUs.")
@click.option("--memory", "memory_gb", type=float, default=None, help="Minimum memory (GiB).")
@click.option(
    "--cloud",
    "clouds",
    multiple=True,
    type=click.Choice([*CATALOG_PROVIDERS, LOCAL_PROVIDER]),
    help="Only this cloud (repeatable); default aws, gcp and azure.",
)
@click.option("--region", default=None, help="Only this region (a zone means its region).")
@click.option("--spot", is_flag=True, help="Only types with a spot price, sorted by it.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of offers.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help=f"At most this many rows (table default {_DEFAULT_TABLE_ROWS}, JSON all; 0 = all).",
)
def offers_command(
    *,
    gpus: str | None,
    cpus: float | None,
    memory_gb: float | None,
    clouds: tuple[str, ...],
    region: str | None,
    spot: bool,
    as_json: bool,
    limit: int | None,
) -> None:
    """Instance types across clouds that fit the request, cheapest first.

    Prices are list prices from the shipped catalog, each with its as_of date and source:
    use them to order options, not to quote.
    """
    from portacloud.profiles import load_profile

    resources = parse_resources(cpus=cpus, memory_gb=memory_gb, gpus=gpus)
    providers = list(clouds) or None
    policy = load_profile().region_policy
    found = offers(resources, providers=providers, region=region, spot=spot, policy=policy)
    if limit is None:
        shown = found if as_json else found[:_DEFAULT_TABLE_ROWS]
    else:
        shown = found[:limit] if limit else found
    if as_json:
        click.echo(json.dumps([o.model_dump(mode="json") for o in shown], indent=2))
    elif shown:
        out_console.print(_table(shown, spot=spot))
        more = len(found) - len(shown)
        note = f" ({more} more: --limit 0 shows all)" if more else ""
        dates = sorted({o.as_of.isoformat() for o in shown})
        err_console.print(
            f"{len(found)} offers{note}; list prices as of {dates[0]}..{dates[-1]}, "
            "sources in --json"
        )
    if policy is not None:
        err_console.print(
            f"only regions the policy of profile {policy.profile!r} allows: "
            f"{escape(', '.join(policy.regions))}"
        )
    if not found:
        err_console.print(f"no offers: {escape(_why_none(providers, region))}")


def _table(rows: list[Offer], *, spot: bool) -> Table:
    table = new_table(
        "cloud", "instance type", "region", "vCPUs", "memory", "GPUs", "$/h", "spot $/h"
    )
    for offer in rows:
        gpus = (
            f"{offer.gpu_count}x {offer.gpu} ({offer.gpu_memory_gb or 0:g} GB)"
            if offer.gpu_count
            else "-"
        )
        spot_text = "-" if offer.spot_price_per_hour is None else f"{offer.spot_price_per_hour:.4f}"
        table.add_row(
            offer.provider,
            offer.instance_type,
            offer.region,
            f"{offer.vcpus:g}",
            f"{offer.memory_gb:g} GiB",
            escape(gpus),
            f"{offer.price_per_hour:.4f}",
            f"[bold]{spot_text}[/]" if spot else spot_text,
        )
    return table


def _why_none(providers: list[str] | None, region: str | None) -> str:
    """Where to look instead, when nothing matched."""
    scope = providers or list(CATALOG_PROVIDERS)
    if region is None:
        return "no type in the catalog fits; try fewer vCPUs or less memory"
    hints = []
    for provider in scope:
        known = regions_for(provider)
        if catalog_region(provider, region) not in known:
            hints.append(f"{provider} has rows for {', '.join(known) or 'no region'}")
    if hints:
        return f"no catalog rows in {region}; " + "; ".join(hints)
    rows = sum(1 for r in catalog_rows() if r.provider in scope)
    return f"none of the {rows} rows of {'/'.join(scope)} in {region} fits; try another region"

"""``portacloud compute``: create, list, stop, start, terminate and wait for instances.

``portacloud compute ls --managed --all-profiles`` is leak hunting: every instance portacloud
created, on the compute target of every profile of ``portacloud.toml``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from portacloud.cli.output import err_console, new_table, out_console

if TYPE_CHECKING:
    from portacloud.compute.compute import Compute
    from portacloud.compute.models import Instance

__all__ = ["compute"]

_ON = click.option(
    "--on",
    "compute_url",
    default=None,
    metavar="URL",
    help="Compute URL (local://, aws://us-east-1...); default: the profile's.",
)
_COLUMNS = ("id", "name", "state", "billing", "type", "region", "managed", "created")


def _open(url: str | None) -> Compute:
    from portacloud.cli.targets import cli_profile
    from portacloud.openers import open_compute
    from portacloud.profiles import connect

    return open_compute(url, profile=cli_profile()) if url else connect().compute


def _row(instance: Instance) -> list[str]:
    from rich.markup import escape

    return [
        escape(cell)
        for cell in (
            instance.id,
            instance.name or "",
            instance.state.value,
            "yes" if instance.billing else "no",
            instance.instance_type or "",
            instance.region or "",
            "yes" if instance.managed else "no",
            instance.created_at.isoformat(timespec="seconds") if instance.created_at else "",
        )
    ]


def _summary(instance: Instance) -> str:
    return f"{instance.id} {instance.state.value}"


def _parse_tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: tags are KEY=VALUE", param_hint="--tag")
        tags[key] = value
    return tags


@click.group()
def compute() -> None:
    """Create and manage instances on any cloud, and hunt for leaked ones."""


@compute.command("ls")
@_ON
@click.option("--managed", is_flag=True, help="Only instances portacloud created.")
@click.option(
    "--all-profiles",
    is_flag=True,
    help="Every profile of portacloud.toml (each compute target once); with --managed: leaks.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def ls(compute_url: str | None, managed: bool, all_profiles: bool, as_json: bool) -> None:
    """List instances, terminated ones included while the provider still reports them."""
    if all_profiles:
        if compute_url:
            raise click.UsageError("--all-profiles lists every profile's target; drop --on")
        _ls_profiles(managed=managed, as_json=as_json)
        return
    with _open(compute_url) as handle:
        found = handle.list(managed=managed)
    if as_json:
        for instance in found:
            click.echo(instance.model_dump_json())
        return
    table = new_table(*_COLUMNS)
    for instance in found:
        table.add_row(*_row(instance))
    out_console.print(table)


def _ls_profiles(*, managed: bool, as_json: bool) -> None:
    from rich.markup import escape

    from portacloud.compute.leaks import scan_profiles

    scans, without = scan_profiles(managed=managed)
    table = new_table("profiles", "target", *_COLUMNS)
    failed = False
    for scan in scans:
        names = ",".join(scan.profiles)
        if scan.error is not None:
            failed = True
            where = f" ({scan.url})" if scan.url else ""
            err_console.print(
                f"[bold red]error:[/] profile {escape(names)}{escape(where)}: "
                f"{escape(str(scan.error))}"
            )
            continue
        for instance in scan.instances:
            if as_json:
                record: dict[str, Any] = instance.model_dump(mode="json")
                record["profiles"] = list(scan.profiles)
                record["target"] = scan.url
                click.echo(json.dumps(record))
            else:
                table.add_row(escape(names), escape(scan.url or ""), *_row(instance))
    if not as_json:
        out_console.print(table)
    if without:
        err_console.print(f"profiles without a compute URL: {escape(', '.join(without))}")
    if failed:
        sys.exit(1)


@compute.command()
@click.argument("name")
@click.option(
    "--on",
    "compute_url",
    required=True,
    metavar="URL",
    help="Compute URL to create the instance on (local://, aws://us-east-1...).",
)
@click.option("--instance-type", default=None, help="A provider instance type (t3.micro...).")
@click.option("--gpus", default=None, help="GPUs: a count (2) or TYPE:COUNT (A100:1).")
@click.option("--cpus", type=float, default=None, help="vCPUs at least.")
@click.option("--memory", "memory_gb", type=float, default=None, help="Memory in GiB at least.")
@click.option("--image", default=None, help="ubuntu-22.04 (default) or a provider image id.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag; repeatable.")
@click.option("--spot", is_flag=True, help="Preemptible capacity.")
def create(
    *,
    name: str,
    compute_url: str,
    instance_type: str | None,
    gpus: str | None,
    cpus: float | None,
    memory_gb: float | None,
    image: str | None,
    tags: tuple[str, ...],
    spot: bool,
) -> None:
    """Create instance NAME by type (--instance-type) or by resources (--gpus/--cpus/--memory).

    Prints the instance id; its state goes to stderr.
    """
    spec: dict[str, Any] = {"name": name, "tags": _parse_tags(tags), "spot": spot}
    wanted = {"gpus": gpus, "cpus": cpus, "memory_gb": memory_gb}
    resources = {k: v for k, v in wanted.items() if v is not None}
    if resources:
        spec["resources"] = resources
    if instance_type is not None:
        spec["instance_type"] = instance_type
    if image is not None:
        spec["image"] = image
    with _open(compute_url) as handle:
        instance = handle.create(spec)
    click.echo(instance.id)
    err_console.print(
        f"{instance.name}: {instance.state.value} ({instance.instance_type}, {instance.region})"
    )


def _transition(name: str, help_text: str) -> click.Command:
    """``compute NAME INSTANCE_ID``: one call of the handle's method of that name."""

    @compute.command(name, help=help_text)
    @click.argument("instance_id")
    @_ON
    def command(instance_id: str, compute_url: str | None) -> None:
        with _open(compute_url) as handle:
            click.echo(_summary(getattr(handle, name)(instance_id)))

    return command


stop = _transition("stop", "Stop an instance (its disk stays; see billing in `ls`).")
start = _transition("start", "Start a stopped instance.")
terminate = _transition("terminate", "Terminate an instance (terminating twice is not an error).")


@compute.command()
@click.argument("instance_id")
@click.argument("state")
@_ON
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds.")
def wait(instance_id: str, state: str, compute_url: str | None, timeout: float) -> None:
    """Wait until an instance reaches STATE (RUNNING, STOPPED, TERMINATED...)."""
    with _open(compute_url) as handle:
        click.echo(_summary(handle.wait(instance_id, state.upper(), timeout=timeout)))

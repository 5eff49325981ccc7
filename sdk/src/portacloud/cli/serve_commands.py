"""``portacloud serve``: deploy, update, scale and watch services from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from portacloud.cli.jobs_commands import load_spec_file
from portacloud.cli.output import err_console, new_table, out_console

__all__ = ["serve"]

_ON_OPTION = click.option(
    "--on",
    "backend_url",
    default=None,
    metavar="URL",
    help="Service backend URL (local://, ray://host:port, slurm://partition); "
    "default: the profile's.",
)
_WAIT_OPTION = click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Wait this long for every replica to be READY; exit 1 otherwise.",
)


def open_services_handle(url: str | None) -> Any:
    """The backend at ``url`` (default: the profile's), under the profile's region policy,
    priced and budgeted by it."""
    from portacloud.cli.targets import cli_profile
    from portacloud.costs.policy import profile_policy
    from portacloud.openers import open_services
    from portacloud.profiles import connect

    if not url:
        return connect().services
    return open_services(url, profile=cli_profile()).use_costs(profile_policy())


def _spec(path: Path) -> Any:
    from portacloud.services.services import parse_service_spec

    return parse_service_spec(load_spec_file(path, what="a service spec"))


def _finish(services: Any, name: str, wait_seconds: float | None, started: Any) -> None:
    """Print the status (after waiting, with --wait) as JSON."""
    if wait_seconds is None:
        click.echo(started.model_dump_json(indent=2))
        return
    err_console.print(f"waiting up to {wait_seconds:g} s for {escape(name)} to be READY ...")
    status = services.wait(name, timeout=wait_seconds)
    click.echo(status.model_dump_json(indent=2))
    err_console.print(f"{escape(name)}: READY at {escape(str(status.endpoint_url))}")


@click.group()
def serve() -> None:
    """Run long-lived HTTP services (replicas behind one endpoint) on any backend."""


@serve.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@_ON_OPTION
@_WAIT_OPTION
def deploy(spec_file: Path, backend_url: str | None, wait_seconds: float | None) -> None:
    """Deploy the service in SPEC_FILE (YAML, ``kind: service``); print its status as JSON."""
    from portacloud.handle import check_timeout

    if wait_seconds is not None:
        check_timeout(wait_seconds, operation="wait")
    spec = _spec(spec_file)
    with open_services_handle(backend_url) as services:
        started = services.deploy(spec, base_dir=spec_file.parent)
        _finish(services, spec.name, wait_seconds, started)


@serve.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@_ON_OPTION
@_WAIT_OPTION
def update(spec_file: Path, backend_url: str | None, wait_seconds: float | None) -> None:
    """Roll the service named in SPEC_FILE onto it, replica by replica, dropping no request."""
    from portacloud.handle import check_timeout

    if wait_seconds is not None:
        check_timeout(wait_seconds, operation="wait")
    spec = _spec(spec_file)
    with open_services_handle(backend_url) as services:
        started = services.update(spec, base_dir=spec_file.parent)
        _finish(services, spec.name, wait_seconds, started)


@serve.command()
@click.argument("name")
@click.argument("replicas", type=click.IntRange(min=0))
@_ON_OPTION
@_WAIT_OPTION
def scale(name: str, replicas: int, backend_url: str | None, wait_seconds: float | None) -> None:
    """Set the service NAME's replica count."""
    with open_services_handle(backend_url) as services:
        _finish(services, name, wait_seconds, services.scale(name, replicas))


@serve.command()
@click.argument("name")
@_ON_OPTION
def status(name: str, backend_url: str | None) -> None:
    """Print a service's status (state, endpoint, version, replicas) as JSON."""
    with open_services_handle(backend_url) as services:
        click.echo(services.get(name).model_dump_json(indent=2))


@serve.command("ls")
@_ON_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def ls(backend_url: str | None, as_json: bool) -> None:
    """List the backend's services."""
    with open_services_handle(backend_url) as services:
        found = services.list()
    if as_json:
        for service in found:
            click.echo(service.model_dump_json())
        return
    table = new_table("name", "state", "ready", "version", "endpoint", "reason")
    for s in found:
        table.add_row(
            escape(s.name),
            s.state.value,
            f"{s.ready_replicas}/{s.desired_replicas}",
            str(s.version),
            escape(s.endpoint_url or ""),
            escape((s.reason or "").splitlines()[0] if s.reason else ""),
        )
    out_console.print(table)


@serve.command()
@click.argument("name")
@_ON_OPTION
@click.option("--replica", default=None, metavar="ID", help="Only this replica's output.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the service is deleted.")
def logs(name: str, backend_url: str | None, replica: str | None, follow: bool) -> None:
    """Print the replicas' stdout and stderr."""
    with open_services_handle(backend_url) as services:
        if not follow:
            sys.stdout.write(services.logs(name, replica=replica))
            return
        for chunk in services.logs(name, replica=replica, follow=True):
            sys.stdout.write(chunk)
            sys.stdout.flush()


@serve.command()
@click.argument("name")
@_ON_OPTION
def delete(name: str, backend_url: str | None) -> None:
    """Stop serving and stop every replica of NAME, freeing its ports and GPUs."""
    with open_services_handle(backend_url) as services:
        services.delete(name)
    err_console.print(f"deleted {escape(name)}")


@serve.command()
def schema() -> None:
    """Print the JSON Schema of a service spec (for editors and validators)."""
    from portacloud.services.models import ServiceSpec

    click.echo(json.dumps(ServiceSpec.model_json_schema(), indent=2))

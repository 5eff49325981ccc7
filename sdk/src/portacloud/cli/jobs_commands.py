"""``portacloud jobs``: submit, watch and cancel jobs on any queue from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from portacloud.cli.output import err_console, new_table, out_console
from portacloud.errors import InvalidArgumentError, NotFoundError

__all__ = ["jobs"]

_QUEUE_OPTION = click.option(
    "--on",
    "queue_url",
    default=None,
    metavar="URL",
    help="Job queue URL (local://, ray://host:port, slurm://partition); default: the profile's.",
)


def open_queue(url: str | None) -> Any:
    """The queue at ``url`` (default: the profile's), under the profile's region policy,
    priced and budgeted by it."""
    from portacloud.cli.targets import cli_profile
    from portacloud.costs.policy import profile_policy
    from portacloud.openers import open_jobs
    from portacloud.profiles import connect

    if not url:
        return connect().jobs
    return open_jobs(url, profile=cli_profile()).use_costs(profile_policy())


_queue = open_queue


def _say_budget(status: Any) -> None:
    """One line on stderr when a budget stopped the job."""
    if status.reason is not None and status.reason.value == "BUDGET_EXCEEDED":
        err_console.print(f"{escape(status.id)}: {escape(status.message or 'over budget')}")


def load_spec_file(path: Path, *, what: str = "a job spec") -> dict[str, Any]:
    """Read a job (or service) spec from YAML (or JSON, which is YAML too)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(f"no such spec file: {path}") from None
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{path}: {what} is a mapping of fields (name, command...)")
    return data


@click.group()
def jobs() -> None:
    """Run GPU and batch jobs on any queue."""


@jobs.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@_QUEUE_OPTION
@click.option(
    "--wait", "wait_seconds", type=float, default=None, help="Wait this long for the end."
)
@click.option(
    "--workdir-limit",
    "workdir_limit_mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="MIB",
    help="The most MiB the spec's workdir may ship (default 100).",
)
def submit(
    spec_file: Path,
    queue_url: str | None,
    wait_seconds: float | None,
    workdir_limit_mb: float | None,
) -> None:
    """Submit the job in SPEC_FILE (YAML) and print its id.

    With --wait, stdout is the final status as JSON (its "id" included) and the exit code is
    0 only for SUCCEEDED, so ``J=$(portacloud jobs submit --wait 600 job.yaml)`` works.
    """
    from portacloud.handle import check_timeout
    from portacloud.jobs.queue import parse_spec

    # Everything that can be refused is refused before the job exists.
    if wait_seconds is not None:
        check_timeout(wait_seconds, operation="wait")
    spec = parse_spec(load_spec_file(spec_file))
    with _queue(queue_url) as queue:
        job = queue.submit(spec, base_dir=spec_file.parent, workdir_limit_mb=workdir_limit_mb)
        if wait_seconds is None:
            click.echo(job.id)
            err_console.print(f"outputs: {escape(str(job.output_uri))}")
            return
        err_console.print(f"submitted {escape(job.id)}; outputs: {escape(str(job.output_uri))}")
        err_console.print(f"waiting up to {wait_seconds:g} s for {escape(job.id)} ...")
        status = queue.wait(job.id, timeout=wait_seconds)
    _say_budget(status)
    click.echo(status.model_dump_json(indent=2))
    if status.state.value != "SUCCEEDED":
        sys.exit(1)


@jobs.command()
@click.argument("job_id")
@_QUEUE_OPTION
def status(job_id: str, queue_url: str | None) -> None:
    """Print a job's status as JSON."""
    with _queue(queue_url) as queue:
        found = queue.status(job_id)
    _say_budget(found)
    click.echo(found.model_dump_json(indent=2))


@jobs.command()
@click.argument("job_id")
@_QUEUE_OPTION
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing output until the job ends; exit 1 unless it succeeded.",
)
@click.option(
    "--task",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Only task N of an array job, without the [task N] prefixes.",
)
def logs(job_id: str, queue_url: str | None, follow: bool, task: int | None) -> None:
    """Print a job's stdout and stderr."""
    with _queue(queue_url) as queue:
        if not follow:
            sys.stdout.write(queue.logs(job_id, task=task))
            return
        for chunk in queue.logs(job_id, task=task, follow=True):
            sys.stdout.write(chunk)
            sys.stdout.flush()
        final = queue.status(job_id)
    if final.state.value != "SUCCEEDED":
        # Like `tail -f` of a build: a script that follows a job learns how it ended.
        reason = f" ({final.reason.value})" if final.reason else ""
        err_console.print(f"{escape(job_id)}: {final.state.value}{reason}")
        sys.exit(1)


@jobs.command()
@click.argument("job_id")
@_QUEUE_OPTION
def cancel(job_id: str, queue_url: str | None) -> None:
    """Cancel a job (cancelling an ended job is not an error)."""
    with _queue(queue_url) as queue:
        queue.cancel(job_id)
        click.echo(queue.status(job_id).state.value)


@jobs.command("rm")
@click.argument("job_ids", nargs=-1, required=True, metavar="ID...")
@_QUEUE_OPTION
def rm(job_ids: tuple[str, ...], queue_url: str | None) -> None:
    """Remove ended jobs with their logs and work directories; print each id removed."""
    from portacloud.errors import PortaCloudError

    failed = False
    with _queue(queue_url) as queue:
        for job_id in job_ids:
            try:
                queue.delete(job_id)
            except PortaCloudError as exc:
                failed = True
                err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
                continue
            click.echo(job_id)
    if failed:
        sys.exit(1)


@jobs.command()
@_QUEUE_OPTION
def prune(queue_url: str | None) -> None:
    """Remove every ended job with its logs and work directories; print each id removed."""
    with _queue(queue_url) as queue:
        removed = queue.prune()
    for job_id in removed:
        click.echo(job_id)
    err_console.print(f"removed {len(removed)} ended job(s)")


@jobs.command("ls")
@_QUEUE_OPTION
@click.option("--state", default=None, help="Only jobs in this state (running, FAILED...).")
@click.option("--name", default=None, help="Only jobs with this name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def ls(queue_url: str | None, state: str | None, name: str | None, as_json: bool) -> None:
    """List the queue's jobs, newest first."""
    with _queue(queue_url) as queue:
        found = queue.list(state=state, name=name)
    if as_json:
        for job in found:
            click.echo(job.model_dump_json())
        return
    table = new_table("id", "name", "state", "reason", "exit", "attempt", "submitted", "cost $")
    for job in found:
        table.add_row(
            escape(job.id),
            escape(job.name),
            job.state.value,
            job.reason.value if job.reason else "",
            "" if job.exit_code is None else str(job.exit_code),
            str(job.attempt),
            job.submitted_at.isoformat(timespec="seconds") if job.submitted_at else "",
            "" if job.cost is None else f"{job.cost:.2f}",
        )
    out_console.print(table)


@jobs.command()
def schema() -> None:
    """Print the JSON Schema of a job spec (for editors and validators)."""
    from portacloud.jobs.models import JobSpec

    click.echo(json.dumps(JobSpec.model_json_schema(), indent=2))

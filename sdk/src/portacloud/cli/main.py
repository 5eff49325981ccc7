"""The ``portacloud`` command: storage commands and the conformance runner."""

from __future__ import annotations

import logging
import sys

import click

from portacloud.cli.catalog_commands import catalog, offers_command
from portacloud.cli.compute_commands import compute
from portacloud.cli.conformance_commands import conformance
from portacloud.cli.gc_commands import gc
from portacloud.cli.jobs_commands import jobs
from portacloud.cli.migrate_commands import migrate, verify
from portacloud.cli.output import fail
from portacloud.cli.storage_commands import cat, cp, ls, rm, stat
from portacloud.errors import PortaCloudError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging: -v for INFO, -vv for DEBUG.")
@click.version_option(package_name="portacloud")
def cli(verbose: int) -> None:
    """portacloud: one API for object storage, compute and GPU jobs across clouds."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for command in (
    ls,
    cat,
    cp,
    rm,
    stat,
    gc,
    migrate,
    verify,
    conformance,
    jobs,
    compute,
    catalog,
    offers_command,
):
    cli.add_command(command)


def main() -> None:
    """Entry point: run the CLI, turning portacloud errors into one line and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except PortaCloudError as exc:
        fail(str(exc))
    except click.exceptions.Abort:
        fail("aborted", code=130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except BrokenPipeError:
        sys.exit(0)

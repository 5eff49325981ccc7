"""The ``portacloud`` command: storage commands and the conformance runner."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

import click

from portacloud.cli.catalog_commands import catalog, offers_command
from portacloud.cli.compute_commands import compute
from portacloud.cli.conformance_commands import conformance
from portacloud.cli.cost_commands import cost
from portacloud.cli.erase_commands import erase
from portacloud.cli.gc_commands import gc
from portacloud.cli.jobs_commands import jobs
from portacloud.cli.migrate_commands import migrate, verify
from portacloud.cli.output import fail
from portacloud.cli.serve_commands import serve
from portacloud.cli.storage_commands import cat, du, ls, rm, stat
from portacloud.cli.transfer_commands import cp, mv, sync
from portacloud.errors import PortaCloudError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging: -v for INFO, -vv for DEBUG.")
@click.option(
    "--profile",
    metavar="NAME",
    help="The profile of portacloud.toml to use (default: $PORTACLOUD_PROFILE or 'default').",
)
@click.version_option(package_name="portacloud")
def cli(verbose: int, profile: str | None) -> None:
    """portacloud: one API for object storage, compute, GPU jobs and services across clouds."""
    if profile is not None:
        from portacloud.profiles import PROFILE_ENV, load_profile

        load_profile(profile)  # a misspelt name fails here, before anything runs
        os.environ[PROFILE_ENV] = profile
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for command in (
    ls,
    cat,
    cp,
    mv,
    sync,
    rm,
    erase,
    du,
    stat,
    gc,
    migrate,
    verify,
    conformance,
    jobs,
    serve,
    compute,
    catalog,
    offers_command,
    cost,
):
    cli.add_command(command)


#: Kubernetes, Slurm and systemd stop a process with SIGTERM; a closed terminal sends SIGHUP.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds exactly as Ctrl-C does, so every write is aborted cleanly."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _terminated(exc: Terminated) -> NoReturn:
    fail(f"terminated by {signal.Signals(exc.signum).name}", code=128 + exc.signum)


def _quiet_broken_pipe() -> NoReturn:
    """A reader that went away (``| head``): end quietly, as ``cat`` does under SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so that the final flush cannot complain again
    sys.exit(128 + signal.SIGPIPE)


def main() -> None:
    """Entry point: run the CLI, turning every failure into one line and a non-zero exit."""
    # The handlers are the CLI's only while it runs: a program that calls main() gets its own
    # back (a Python handler left behind would reach the processes it forks later, which then
    # cannot be stopped while they wait in native code).
    previous = {signum: signal.signal(signum, _terminate) for signum in _STOP_SIGNALS}
    try:
        _run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run() -> None:
    try:
        cli.main(standalone_mode=False)
    except PortaCloudError as exc:
        fail(str(exc))
    except click.exceptions.Abort as exc:
        # click turns KeyboardInterrupt (and so Terminated) into Abort; keep the signal's code.
        if isinstance(exc.__cause__, Terminated):
            _terminated(exc.__cause__)
        fail("aborted", code=130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Terminated as exc:
        _terminated(exc)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except OSError as exc:
        from portacloud.cli.local_files import local_error

        fail(str(local_error(exc, exc.filename or "?")))
    except Exception as exc:  # the last line of defence: one line, never a traceback
        logging.getLogger("portacloud").debug("unexpected error", exc_info=True)
        fail(f"[INTERNAL] unexpected {type(exc).__name__}: {exc} (run with -vv for details)")

"""Run ``portacloud migrate`` / ``portacloud verify`` as a user would, in a subprocess.

Uses the real ``portacloud`` entry point once the commands are registered there, and until then
a group holding just these two commands behind the same error handling (one line, no
traceback).
"""

from __future__ import annotations

import sys

import click

from portacloud.cli import main as cli_main
from portacloud.cli.migrate_commands import migrate, verify


def run() -> None:
    """Dispatch argv to the migrate commands the way ``portacloud.cli.main.main`` does."""
    if "migrate" in cli_main.cli.commands:
        cli_main.main()
        return
    group = click.Group("portacloud", commands={"migrate": migrate, "verify": verify})
    original = cli_main.cli
    cli_main.cli = group  # main() runs whatever group this module holds, with its handling
    try:
        cli_main.main()
    finally:
        cli_main.cli = original


if __name__ == "__main__":
    run()
    sys.exit(0)

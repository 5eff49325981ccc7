"""Console helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["err_console", "fail", "new_table", "out_console"]

# Piped or redirected output is read by programs and grep: rich's default of 80 columns
# (or $COLUMNS) would cut IDs, instance types and URLs there, so it gets all the width it
# needs and every value stays whole on its line.
_UNBOUNDED = 1_000_000


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    interactive = stream.isatty()
    return Console(
        stderr=stderr,
        highlight=False,
        soft_wrap=True,
        width=None if interactive else _UNBOUNDED,
    )


out_console = _console(stderr=False)
err_console = _console(stderr=True)


def new_table(*columns: str, **options: Any) -> Table:
    """A table whose cells fold onto more lines instead of being cut with an ellipsis.

    Args:
        columns: The column headers.
        options: Passed to :class:`rich.table.Table` (``title``...).
    """
    table = Table(**options)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one error line on stderr and exit; users never see a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)

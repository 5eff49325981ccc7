"""Console helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

__all__ = ["err_console", "fail", "out_console"]

out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one error line on stderr and exit; users never see a traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)

"""Progress for transfers: a bar on a terminal for large ones, nothing otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

__all__ = ["CountingReader", "progress"]

_PROGRESS_THRESHOLD = 8 * 1024 * 1024


class CountingReader:
    """A binary reader that reports every chunk it hands out to a progress callback."""

    def __init__(self, raw: IO[bytes], advance: Callable[[int], object]) -> None:
        self._raw = raw
        self._advance = advance

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._advance(len(data))
        return data


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], object]]:
    """Yield an ``advance(n)`` callback; draw a bar on a terminal for large transfers."""
    from portacloud.cli.output import err_console

    if total is None or total < _PROGRESS_THRESHOLD or not err_console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)

"""The CLI's entry point called inside another program (a notebook, a test runner, a wrapper).

``main()`` installs SIGTERM and SIGHUP handlers that turn the signals into a clean abort. Left
installed after it returned, a handler that only raises between bytecodes reached every
process the program forked later: CI's pytest, having run the CLI in process, could not stop
a hung fork-pool worker, and hung at exit joining it.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import pytest

from portacloud.cli.main import main


def _own_handler(signum: int, frame: FrameType | None) -> None:
    """The calling program's handler (never called here)."""


@pytest.fixture
def own_handlers() -> Iterator[None]:
    previous = {s: signal.signal(s, _own_handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("argv", [["--help"], ["no-such-command"], ["cat", "memory://x/k"]])
def test_main_gives_the_callers_signal_handlers_back(own_handlers: None, argv: list[str]) -> None:
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        contextlib.suppress(SystemExit),
    ):
        patch.setattr(sys, "argv", ["portacloud", *argv])
        main()
    assert signal.getsignal(signal.SIGTERM) is _own_handler
    assert signal.getsignal(signal.SIGHUP) is _own_handler

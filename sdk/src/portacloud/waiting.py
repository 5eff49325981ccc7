"""Polling until something reaches a state: the one loop behind ``Job.wait`` and ``Compute.wait``.

Jobs and instances have no push notifications that work on every backend, so waiting is
polling: read, check, sleep a little longer each time (from 0.1 s up to a cap), and give up
at the deadline with the caller's own error, built from the last thing read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from portacloud.errors import PortaCloudError

__all__ = ["poll_until"]

_T = TypeVar("_T")
_FIRST_DELAY = 0.1
_GROWTH = 1.5


def poll_until(
    read: Callable[[], _T],
    done: Callable[[_T], bool],
    *,
    timeout: float,
    max_delay: float,
    expired: Callable[[_T], PortaCloudError],
) -> _T:
    """Call ``read`` until ``done`` accepts what it returned, and return that.

    Args:
        read: Reads the current state (its own errors propagate; ``done`` may raise too,
            for a state that can never turn into the one waited for).
        done: Whether the state read is the one waited for.
        timeout: Seconds to keep polling (already checked to be positive).
        max_delay: The longest sleep between two reads.
        expired: Builds the error raised when ``timeout`` passes, from the last state read.

    Raises:
        PortaCloudError: what ``expired`` built, once the deadline has passed.
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    while True:
        current = read()
        if done(current):
            return current
        if time.monotonic() >= deadline:
            raise expired(current)
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * _GROWTH, max_delay)

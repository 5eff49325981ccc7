"""Polling until something reaches a state: the one loop behind ``Job.wait`` and ``Compute.wait``.

Jobs and instances have no push notifications that work on every backend, so waiting is
polling: read, check, sleep a little longer each time (from 0.1 s up to a cap), and give up
at the deadline with DEADLINE_EXCEEDED saying what the last read found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from portacloud.errors import DeadlineExceededError

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
    state: Callable[[_T], str],
    provider: str,
    resource: str,
    goal: str | None = None,
) -> _T:
    """Call ``read`` until ``done`` accepts what it returned, and return that.

    Args:
        read: Reads the current state (its own errors propagate; ``done`` may raise too,
            for a state that can never turn into the one waited for).
        done: Whether the state read is the one waited for.
        timeout: Seconds to keep polling (already checked to be positive).
        max_delay: The longest sleep between two reads.
        state: The name of the state read, for the message at the deadline.
        provider: The backend, for the error's context.
        resource: What is waited for (a job or instance id).
        goal: The state waited for, when the message should name it.

    Raises:
        DeadlineExceededError: ``timeout`` passed first (not retryable: the caller chose the
            time limit).
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    while True:
        current = read()
        if done(current):
            return current
        if time.monotonic() >= deadline:
            waiting = f" (waiting for {goal})" if goal else ""
            raise DeadlineExceededError(
                f"still {state(current)} after {timeout:g} s{waiting}",
                provider=provider,
                operation="wait",
                resource=resource,
                retryable=False,
            )
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * _GROWTH, max_delay)

"""The one retry policy of the portable layer (see docs/decisions/0001-retries.md).

The portable type owns retries of whole calls whose input can be replayed (stat, ranged read
open, list page, delete, copy, put of in-memory bytes). Vendor SDKs are configured not to retry
on their own, so nothing is retried twice. Streamed writes are never replayed here: a driver
retries the parts it still holds in memory.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from portacloud.errors import (
    FailedPreconditionError,
    PortaCloudError,
    ResourceExhaustedError,
    UnavailableError,
)

__all__ = [
    "RetryPolicy",
    "async_call_conditional_with_retry",
    "async_call_with_retry",
    "call_conditional_with_retry",
    "call_with_retry",
]

_T = TypeVar("_T")
#: One DEBUG record per retry: observability for users, and what the fault-injection tests count
#: to prove that each fault costs one retry (docs/decisions/0001-retries.md).
_log = logging.getLogger("portacloud.retry")
#: Set while a retry owner runs a call: a retrying call nested in it (a driver's own retry
#: under the portable Bucket's) runs once, so attempts never multiply. Executor threads start
#: with a fresh context, so each part of a parallel upload is its own call.
_owned: ContextVar[bool] = ContextVar("portacloud_retry_owned", default=False)


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter, capped, honouring ``Retry-After``.

    Attributes:
        attempts: Total tries, the first included (1 disables retries).
        initial_delay: Base delay in seconds before the second try.
        max_delay: Cap on any single delay, ``Retry-After`` included.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=5, ge=1)
    initial_delay: float = Field(default=0.1, ge=0)
    max_delay: float = Field(default=10.0, ge=0)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.initial_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, PortaCloudError) and exc.retryable


def call_with_retry(policy: RetryPolicy, fn: Callable[[], _T]) -> _T:
    """Call ``fn`` until it succeeds, raises a non-retryable error, or tries run out.

    The error raised after the last try is marked ``retryable=False`` and says how many tries
    were made: retrying it again would multiply the policy's attempts. Called inside another
    retrying call of the same thread, ``fn`` runs once: the outer call owns the retries.
    """
    if _owned.get():
        return fn()
    with _Owner(policy):
        return _retrying(policy, fn)


class _Owner:
    """The retry owner's scope: nested retrying calls run once, and a retryable error that
    leaves it (the tries ran out) is marked as given up."""

    __slots__ = ("_policy", "_token")

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __enter__(self) -> None:
        self._token = _owned.set(True)

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        _owned.reset(self._token)
        if isinstance(exc, PortaCloudError) and exc.retryable:
            _give_up(exc, self._policy.attempts)


def _give_up(exc: PortaCloudError, attempts: int) -> None:
    tries = "retries are off (1 try)" if attempts == 1 else f"gave up after {attempts} tries"
    exc.message = f"{exc.message} ({tries})"
    exc.args = (exc.message,)
    exc.retryable = False


def _retrying(policy: RetryPolicy, fn: Callable[[], _T]) -> _T:
    # The first try runs bare: tenacity's bookkeeping costs more than a local read, and most
    # calls succeed at once. Only after a retryable failure does tenacity take over.
    try:
        return fn()
    except PortaCloudError as exc:
        first_delay = _first_delay(policy, exc)
    import tenacity  # imported on the first retry: keeps `import portacloud` fast

    time.sleep(first_delay)
    retrying = tenacity.Retrying(**_tenacity_options(policy))
    return retrying(fn)


def _first_delay(policy: RetryPolicy, exc: PortaCloudError) -> float:
    """The wait after a bare first try failed with ``exc``; re-raises it if not to be retried."""
    if policy.attempts == 1 or not exc.retryable:
        raise exc
    delay = policy.delay(1, exc.retry_after)
    _log_retry(policy, 1, delay, exc)
    return delay


def _tenacity_options(policy: RetryPolicy) -> dict[str, Any]:
    """tenacity's settings for the tries after the bare first one, sync and async alike."""
    import tenacity

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, PortaCloudError) else None
        return policy.delay(state.attempt_number + 1, after)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        # Runs only when another try will follow (tenacity computes the wait even for the last).
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, PortaCloudError):
            # Tenacity's attempt numbers start after the bare first try.
            _log_retry(policy, state.attempt_number + 1, state.upcoming_sleep, exc)

    return {
        "stop": tenacity.stop_after_attempt(policy.attempts - 1),
        "wait": wait,
        "before_sleep": before_sleep,
        "retry": tenacity.retry_if_exception(_is_retryable),
        "reraise": True,
    }


async def async_call_with_retry(policy: RetryPolicy, fn: Callable[[], Awaitable[_T]]) -> _T:
    """:func:`call_with_retry` for a coroutine function: the same policy, log and ownership.

    The waits are ``asyncio.sleep``; each asyncio task has its own context, so calls gathered
    at once each own their retries.
    """
    if _owned.get():
        return await fn()
    with _Owner(policy):
        return await _async_retrying(policy, fn)


async def _async_retrying(policy: RetryPolicy, fn: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await fn()
    except PortaCloudError as exc:
        first_delay = _first_delay(policy, exc)
    import tenacity

    async def again() -> _T:
        # tenacity awaits coroutine functions only; ``fn`` may be any function of an awaitable.
        return await fn()

    await asyncio.sleep(first_delay)
    retrying = tenacity.AsyncRetrying(**_tenacity_options(policy))
    return await retrying(again)


def call_conditional_with_retry(policy: RetryPolicy, fn: Callable[[], _T]) -> _T:
    """:func:`call_with_retry` for a conditional write, which must never mistake its own
    success for a lost race.

    A try whose answer was lost (a reset, a cut body, a timeout) may have been applied, and a
    later try then finds the condition broken by that very write. Only a refusal
    (RESOURCE_EXHAUSTED: throttling is answered before anything is applied) leaves the outcome
    known, so after any other retried failure a FAILED_PRECONDITION becomes a non-retryable
    UNAVAILABLE that says the outcome is unknown.
    """
    tries = _ConditionalTries()

    def once() -> _T:
        try:
            return fn()
        except PortaCloudError as exc:
            tries.raise_for(exc)
            raise

    return call_with_retry(policy, once)


async def async_call_conditional_with_retry(
    policy: RetryPolicy, fn: Callable[[], Awaitable[_T]]
) -> _T:
    """:func:`call_conditional_with_retry` for a coroutine function."""
    tries = _ConditionalTries()

    async def once() -> _T:
        try:
            return await fn()
        except PortaCloudError as exc:
            tries.raise_for(exc)
            raise

    return await async_call_with_retry(policy, once)


class _ConditionalTries:
    """Whether an earlier try of one conditional write may have been applied."""

    def __init__(self) -> None:
        self.maybe_applied = False

    def raise_for(self, exc: PortaCloudError) -> None:
        """Raise the outcome-unknown error in place of ``exc`` where it applies; else note
        whether ``exc`` may hide an applied write (the caller then re-raises ``exc``)."""
        if isinstance(exc, FailedPreconditionError):
            if not self.maybe_applied:
                return
            raise UnavailableError(
                "the outcome of this conditional write is unknown: an earlier try's answer was "
                "lost, and the retry found the condition broken, possibly by that try; read "
                "the object to find out",
                provider=exc.provider,
                operation=exc.operation,
                resource=exc.resource,
                retryable=False,
            ) from exc
        if exc.retryable and not isinstance(exc, ResourceExhaustedError):
            self.maybe_applied = True


def _log_retry(policy: RetryPolicy, failed: int, delay: float, exc: PortaCloudError) -> None:
    _log.debug(
        "try %d of %d failed (%s); retrying in %.3f s",
        failed,
        policy.attempts,
        exc,
        delay,
        extra={
            "portacloud_retry": {
                "attempt": failed,
                "attempts": policy.attempts,
                "delay": delay,
                "retry_after": exc.retry_after,
                "code": exc.code.value,
                "provider": exc.provider,
                "operation": exc.operation,
            }
        },
    )

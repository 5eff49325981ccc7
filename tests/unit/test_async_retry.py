"""The asyncio retry loop: the same policy, retry log and ownership as the blocking one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from portacloud.errors import FailedPreconditionError, NotFoundError, UnavailableError
from portacloud.retry import (
    RetryPolicy,
    async_call_conditional_with_retry,
    async_call_with_retry,
    call_with_retry,
)

FAST = RetryPolicy(attempts=3, initial_delay=0, max_delay=0)


def _script(*outcomes: Exception | str) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A coroutine function that raises or returns ``outcomes`` in turn, and its call count."""
    calls: list[int] = []

    async def call() -> str:
        outcome = outcomes[len(calls)]
        calls.append(1)
        await asyncio.sleep(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return call, calls


def test_a_transient_failure_costs_one_logged_retry(caplog: pytest.LogCaptureFixture) -> None:
    call, calls = _script(UnavailableError("blip"), "ok")
    with caplog.at_level(logging.DEBUG, logger="portacloud.retry"):
        assert asyncio.run(async_call_with_retry(FAST, call)) == "ok"
    assert len(calls) == 2
    events = [r.portacloud_retry for r in caplog.records if hasattr(r, "portacloud_retry")]
    assert [e["attempt"] for e in events] == [1]
    assert events[0]["code"] == "UNAVAILABLE"


def test_the_error_after_the_last_try_is_final() -> None:
    call, calls = _script(*[UnavailableError("down")] * 3)
    with pytest.raises(UnavailableError) as info:
        asyncio.run(async_call_with_retry(FAST, call))
    assert len(calls) == 3
    assert info.value.retryable is False
    assert "gave up after 3 tries" in str(info.value)


def test_a_non_retryable_error_is_raised_at_once() -> None:
    call, calls = _script(NotFoundError("gone"))
    with pytest.raises(NotFoundError):
        asyncio.run(async_call_with_retry(FAST, call))
    assert len(calls) == 1


def test_a_function_returning_an_awaitable_is_retried_too() -> None:
    # tenacity awaits coroutine functions only: a plain function of an awaitable must work.
    call, calls = _script(UnavailableError("blip"), UnavailableError("blip"), "ok")

    def plain() -> Awaitable[str]:
        return call()

    assert asyncio.run(async_call_with_retry(FAST, plain)) == "ok"
    assert len(calls) == 3


def test_a_nested_retrying_call_runs_once() -> None:
    inner_calls: list[int] = []

    def inner() -> None:
        inner_calls.append(1)
        raise UnavailableError("inner")

    async def outer() -> None:
        call_with_retry(FAST, inner)  # owned by the async loop: one try

    with pytest.raises(UnavailableError):
        asyncio.run(async_call_with_retry(FAST, outer))
    assert len(inner_calls) == 3  # one per outer try, never 3 x 3


def test_gathered_calls_each_own_their_retries() -> None:
    scripts = [_script(UnavailableError("blip"), str(i)) for i in range(8)]

    async def main() -> list[str]:
        return await asyncio.gather(*(async_call_with_retry(FAST, c) for c, _ in scripts))

    assert asyncio.run(main()) == [str(i) for i in range(8)]
    assert all(len(calls) == 2 for _, calls in scripts)


def test_a_lost_answer_then_a_broken_condition_is_an_unknown_outcome() -> None:
    call, _ = _script(UnavailableError("reset"), FailedPreconditionError("etag differs"))
    with pytest.raises(UnavailableError, match="outcome of this conditional write is unknown") as e:
        asyncio.run(async_call_conditional_with_retry(FAST, call))
    assert e.value.retryable is False


def test_a_broken_condition_at_the_first_try_is_a_lost_race() -> None:
    call, calls = _script(FailedPreconditionError("exists"))
    with pytest.raises(FailedPreconditionError):
        asyncio.run(async_call_conditional_with_retry(FAST, call))
    assert len(calls) == 1

"""The retry owner: one per call path, and the error after its last try is final."""

from __future__ import annotations

import threading

import pytest

from portacloud.errors import NotFoundError, UnavailableError
from portacloud.retry import RetryPolicy, call_conditional_with_retry, call_with_retry

FAST = RetryPolicy(attempts=3, initial_delay=0, max_delay=0)


def _failing(counter: list[int], exc: Exception) -> None:
    counter.append(1)
    raise exc


def test_the_error_after_the_last_try_is_not_retryable_and_counts_the_tries() -> None:
    calls: list[int] = []
    with pytest.raises(UnavailableError) as info:
        call_with_retry(FAST, lambda: _failing(calls, UnavailableError("server down")))
    assert len(calls) == 3
    assert info.value.retryable is False
    assert "gave up after 3 tries" in str(info.value)


def test_attempts_one_is_one_call_and_a_final_error() -> None:
    calls: list[int] = []
    with pytest.raises(UnavailableError) as info:
        call_with_retry(
            RetryPolicy(attempts=1), lambda: _failing(calls, UnavailableError("server down"))
        )
    assert len(calls) == 1
    assert info.value.retryable is False
    assert "retries are off" in str(info.value)


def test_a_non_retryable_error_is_raised_as_it_was() -> None:
    calls: list[int] = []
    with pytest.raises(NotFoundError) as info:
        call_with_retry(FAST, lambda: _failing(calls, NotFoundError("no such key")))
    assert len(calls) == 1
    assert str(info.value) == "[NOT_FOUND] no such key"


def test_a_nested_retrying_call_runs_once_under_its_owner() -> None:
    inner: list[int] = []

    def outer_try() -> None:
        call_with_retry(FAST, lambda: _failing(inner, UnavailableError("reset")))

    with pytest.raises(UnavailableError) as info:
        call_with_retry(FAST, outer_try)
    assert len(inner) == 3  # 3 outer tries x 1 inner try, not 3 x 3
    assert info.value.retryable is False
    assert str(info.value).count("gave up") == 1


def test_a_nested_conditional_call_runs_once_under_its_owner() -> None:
    inner: list[int] = []

    def outer_try() -> None:
        call_conditional_with_retry(FAST, lambda: _failing(inner, UnavailableError("reset")))

    with pytest.raises(UnavailableError):
        call_conditional_with_retry(FAST, outer_try)
    assert len(inner) == 3


def test_another_thread_is_its_own_owner() -> None:
    # Parallel part uploads run in executor threads: each part keeps its own retries.
    inner: list[int] = []
    errors: list[UnavailableError] = []

    def part() -> None:
        try:
            call_with_retry(FAST, lambda: _failing(inner, UnavailableError("reset")))
        except UnavailableError as exc:
            errors.append(exc)

    def outer_try() -> None:
        worker = threading.Thread(target=part)
        worker.start()
        worker.join()

    call_with_retry(FAST, outer_try)
    assert len(inner) == 3
    assert len(errors) == 1
    assert errors[0].retryable is False

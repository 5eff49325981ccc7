"""The error taxonomy and the retry policy of the portable layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import portacloud
from portacloud.errors import ErrorCode, error_for_code
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud.storage.bucket import Bucket
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.models import ListPage, ObjectInfo


def test_every_code_has_a_subclass() -> None:
    for code in ErrorCode:
        cls = error_for_code(code)
        assert issubclass(cls, portacloud.PortaCloudError)
        assert cls.code is code


def test_error_message_and_native_cause() -> None:
    native = KeyError("vendor detail")
    err = portacloud.NotFoundError("gone", provider="s3", operation="get", resource="k")
    err.__cause__ = native
    assert str(err) == "[NOT_FOUND] s3.get 'k': gone"
    assert err.as_native(KeyError) is native
    assert err.as_native(ValueError) is None


def test_retry_stops_on_success_and_on_permanent_errors() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise portacloud.UnavailableError("blip")
        return "ok"

    assert call_with_retry(RetryPolicy(initial_delay=0), flaky) == "ok"
    assert len(calls) == 3

    calls.clear()

    def permanent() -> None:
        calls.append(1)
        raise portacloud.NotFoundError("no")

    with pytest.raises(portacloud.NotFoundError):
        call_with_retry(RetryPolicy(initial_delay=0), permanent)
    assert len(calls) == 1


def test_retry_gives_up_after_attempts() -> None:
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise portacloud.ResourceExhaustedError("slow down")

    with pytest.raises(portacloud.ResourceExhaustedError):
        call_with_retry(RetryPolicy(attempts=4, initial_delay=0), always)
    assert len(calls) == 4


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=3)
    assert policy.delay(1, 2.0) == 2.0
    assert policy.delay(1, 60.0) == 3
    assert all(0 <= policy.delay(n, None) <= min(3, 0.5 * 2 ** (n - 1)) for n in range(1, 8))


class _FlakyDriver:
    """A driver whose native failures exercise the portable layer's wrapping and retries."""

    provider = "flaky"
    capabilities = StorageCapabilities()

    def __init__(self, failures: int, exc: Exception) -> None:
        self.failures = failures
        self.exc = exc
        self.calls = 0

    def stat(self, key: str) -> ObjectInfo:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return ObjectInfo(key=key, size=1, etag="e")

    def map_error(self, exc: Exception) -> portacloud.PortaCloudError | None:
        if isinstance(exc, TimeoutError):
            return portacloud.UnavailableError("timed out")
        return None

    def native(self) -> object:
        return self

    def close(self) -> None:
        pass

    def read(self, *a: Any, **k: Any) -> Any:
        raise NotImplementedError

    def open_writer(self, *a: Any, **k: Any) -> Any:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list_page(self, options: Any) -> ListPage:
        raise NotImplementedError

    def copy(self, *a: Any, **k: Any) -> ObjectInfo:
        raise NotImplementedError


def test_bucket_retries_mapped_transient_errors() -> None:
    driver = _FlakyDriver(2, TimeoutError("socket"))
    bucket = Bucket(driver, url="flaky://b", retry=RetryPolicy(initial_delay=0))
    assert bucket.head("k").size == 1
    assert driver.calls == 3


def test_unmapped_native_error_becomes_unknown_with_cause() -> None:
    driver = _FlakyDriver(1, ZeroDivisionError("vendor bug"))
    bucket = Bucket(driver, url="flaky://b", retry=RetryPolicy(initial_delay=0))
    with pytest.raises(portacloud.UnknownError) as caught:
        bucket.head("k")
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert caught.value.provider == "flaky"
    assert caught.value.operation == "head"
    assert driver.calls == 1


def test_as_native_is_typed() -> None:
    driver = _FlakyDriver(0, TimeoutError())
    bucket = Bucket(driver, url="flaky://b")
    assert bucket.as_native(_FlakyDriver) is driver
    assert bucket.as_native(str) is None


def _chunks() -> Iterator[bytes]:
    yield b"a"

"""What every portable handle (Bucket, JobQueue, Compute) does the same way around its driver."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, Protocol, Self, TypeVar

from portacloud.errors import (
    InvalidArgumentError,
    PortaCloudError,
    UnsupportedError,
    guarded_call,
)

__all__ = ["DriverHandle", "check_timeout"]

_T = TypeVar("_T")


class _Driver(Protocol):
    provider: str

    def map_error(self, exc: Exception) -> PortaCloudError | None: ...

    def close(self) -> None: ...


_D = TypeVar("_D", bound=_Driver)


def check_timeout(timeout: object, *, operation: str) -> float:
    """Refuse a wait timeout that is not a positive number of seconds (``inf`` waits forever).

    A negative or NaN timeout used to turn into an immediate DEADLINE_EXCEEDED, or worse, a
    job submitted and then abandoned; saying so up front is the only useful answer.

    Raises:
        InvalidArgumentError: ``timeout`` is not a number, or is zero, negative or NaN.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidArgumentError(
            f"timeout must be a number of seconds, not {timeout!r}", operation=operation
        )
    if math.isnan(timeout) or timeout <= 0:
        raise InvalidArgumentError(
            f"timeout must be a positive number of seconds, not {timeout!r}", operation=operation
        )
    return float(timeout)


class DriverHandle(Generic[_D]):
    """A portable type over one driver: its URL, error wrapping and lifetime."""

    def __init__(self, driver: _D, *, url: str) -> None:
        self._driver = driver
        self._url = url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r})"

    @property
    def url(self) -> str:
        """The URL this handle was opened with (URLs never hold credentials)."""
        return self._url

    @property
    def provider(self) -> str:
        """The backend's short name (``"s3"``, ``"local"``, ``"ray"``...)."""
        return self._driver.provider

    def _guarded(self, operation: str, resource: str | None, fn: Callable[[], _T]) -> _T:
        return guarded_call(
            fn,
            map_error=self._driver.map_error,
            provider=self.provider,
            operation=operation,
            resource=resource,
        )

    def _unsupported(self, operation: str, what: str, capability: str) -> UnsupportedError:
        return UnsupportedError(
            f"{what} is not supported by this backend (capability {capability} is false)",
            provider=self.provider,
            operation=operation,
        )

    def close(self) -> None:
        """Release the backend's connections."""
        self._driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

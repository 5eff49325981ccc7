"""What every portable handle (Bucket, JobQueue, Compute) does the same way around its driver."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from portacloud.errors import (
    InvalidArgumentError,
    PortaCloudError,
    UnsupportedError,
    guarded_call,
)

__all__ = ["DriverHandle", "check_timeout", "picklable_options"]

if TYPE_CHECKING:
    from portacloud.retry import RetryPolicy

_T = TypeVar("_T")

# One lock for every lazy reopen: reopening is rare (once per unpickled handle), and a
# per-handle lock would itself have to be left out of the pickle and recreated.
_REOPEN_LOCK = threading.Lock()

_PLAIN = (str, int, float, bool, type(None))


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


def picklable_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options a handle may carry through ``pickle``: plain values, never credentials.

    Secret-named options (the names URLs refuse: ``*key``, ``*secret*``, ``*token*``...) and
    live objects (sessions, clients, credential objects) stay behind; the receiving process
    gets credentials from its own environment, as the vendor SDKs do.
    """
    from portacloud.urls import SECRET_NAME

    kept: dict[str, Any] = {}
    for name, value in options.items():
        if SECRET_NAME.search(name):
            continue
        if isinstance(value, _PLAIN) or (
            isinstance(value, tuple | list) and all(isinstance(v, _PLAIN) for v in value)
        ):
            kept[name] = value
    return kept


class DriverHandle(Generic[_D]):
    """A portable type over one driver: its URL, error wrapping and lifetime.

    Handles pickle by URL and options (see :func:`picklable_options`), never by driver: the
    copy reopens its driver on first use, in whichever process it lands.
    """

    #: The policy of :meth:`_retried`, set by the handles that retry reads.
    _retry: RetryPolicy

    def __init__(self, driver: _D, *, url: str, options: Mapping[str, Any] | None = None) -> None:
        self._driver_obj: _D | None = driver
        self._url = url
        self._options = dict(options or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r})"

    @property
    def _driver(self) -> _D:
        driver = self._driver_obj
        if driver is None:
            with _REOPEN_LOCK:
                if self._driver_obj is None:
                    self._driver_obj = self._reopen()
                driver = self._driver_obj
        return driver

    def _reopen(self) -> _D:
        """Open a fresh driver from the URL and options (after unpickling)."""
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        # No live client, lock or connection pool crosses: only what reopens the driver.
        state = dict(self.__dict__)
        state["_driver_obj"] = None
        state["_options"] = picklable_options(self._options)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

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

    def _retried(self, operation: str, resource: str | None, fn: Callable[[], _T]) -> _T:
        """A call that is safe to repeat, retried under the handle's ``_retry`` policy."""
        from portacloud.retry import call_with_retry

        return call_with_retry(self._retry, lambda: self._guarded(operation, resource, fn))

    def _unsupported(self, operation: str, what: str, capability: str) -> UnsupportedError:
        return UnsupportedError(
            f"{what} is not supported by this backend (capability {capability} is false)",
            provider=self.provider,
            operation=operation,
        )

    def close(self) -> None:
        """Release the backend's connections (a handle never used since unpickling has none)."""
        if self._driver_obj is not None:
            self._driver_obj.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

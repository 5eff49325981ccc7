"""Loading a libcloud driver class by name, and releasing a driver's connection.

Storage and compute drivers are found, built and closed the same way; only the family
(``libcloud.storage`` or ``libcloud.compute``) differs.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from portacloud.errors import PortaCloudError, UnsupportedError
from portacloud_libcloud.errors import map_libcloud_error, native_failure
from portacloud_libcloud.per_thread import PerThread

__all__ = ["NativeDrivers", "close_session", "driver_class", "guarded"]

_T = TypeVar("_T")
_Kind = Literal["storage", "compute"]


def driver_class(kind: _Kind, name: str) -> Any:
    """libcloud's ``kind`` driver class ``name``.

    Raises:
        UnsupportedError: libcloud has no such driver.
    """
    providers: Any = importlib.import_module(f"libcloud.{kind}.providers")
    if name not in providers.DRIVERS:
        raise UnsupportedError(
            f"libcloud has no {kind} driver {name!r}; known: "
            + ", ".join(sorted(str(p) for p in providers.DRIVERS))
        )
    return guarded(kind, name, lambda: providers.get_driver(name))


def guarded(kind: _Kind, name: str, fn: Callable[[], _T]) -> _T:
    """``fn()``, with what building or first using the driver raised mapped to portacloud."""
    try:
        return fn()
    except PortaCloudError:
        raise
    except Exception as exc:
        what = "driver" if kind == "storage" else f"{kind} driver"
        raise native_failure(exc, f"libcloud {what} {name!r}") from exc


def close_session(native: Any) -> None:
    """Close the HTTP session of a libcloud driver's connection, if it has one."""
    connection = getattr(native, "connection", None)
    http = getattr(connection, "connection", None)
    session = getattr(http, "session", None)
    close = getattr(session, "close", None)
    if callable(close):
        # The caller is done with the driver; a session that fails to close leaks nothing more.
        with contextlib.suppress(Exception):
            close()


class NativeDrivers:
    """What a portacloud driver over libcloud does the same for storage and compute.

    One libcloud driver per thread (:class:`~portacloud_libcloud.per_thread.PerThread`), errors
    through the provider's one table, and the connection closed at the end.
    """

    def __init__(self, native: Any, factory: Callable[[], Any] | None) -> None:
        self._drivers = PerThread(native, factory)

    @property
    def native_driver(self) -> Any:
        """The calling thread's libcloud driver."""
        return self._drivers.get()

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate through the provider's one table (:mod:`portacloud_libcloud.errors`)."""
        return map_libcloud_error(exc)

    def native(self) -> object | None:
        """The calling thread's libcloud driver."""
        native: object = self.native_driver
        return native

    def close(self) -> None:
        """Close the HTTP session of the driver's connection."""
        close_session(self.native_driver)

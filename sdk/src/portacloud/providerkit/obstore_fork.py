"""obstore and ``fork()``: a forked child serves its obstore drivers through their SDK drivers.

obstore runs every request on a tokio runtime that lives in the process that first used it.
``fork()`` copies only the calling thread, so in a child forked after that (``multiprocessing``
and ``concurrent.futures.ProcessPoolExecutor`` with the ``fork`` start method, PyTorch's
``DataLoader`` workers, dask's process scheduler) every obstore call hangs, whether on a store
the parent made or on a new one (tokio-rs/tokio#4301; obstore 0.12.1 does the same). Such a
child therefore opens the SDK engine, and drivers it inherited send each call to the SDK driver
they wrap, which keeps the same semantics and reads the same objects.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["note_obstore_runtime", "obstore_forked", "sdk_after_fork"]

_M = TypeVar("_M", bound=Callable[..., Any])

#: The process whose obstore calls started obstore's runtime (``None``: none yet).
_runtime_pid: int | None = None


def note_obstore_runtime() -> None:
    """Record that this process uses obstore (called when a driver makes its store)."""
    global _runtime_pid  # noqa: PLW0603 - one fact per process, read on every call
    if _runtime_pid is None:
        _runtime_pid = os.getpid()


def obstore_forked() -> bool:
    """Whether this process was forked from one that had used obstore (obstore would hang)."""
    return _runtime_pid is not None and _runtime_pid != os.getpid()


def sdk_after_fork(method: _M) -> _M:
    """Make a driver method call its SDK driver's method of the same name after a fork.

    Args:
        method: A blocking data-path method of an obstore driver (one with an ``sdk``).

    Returns:
        The method, unchanged in the process that made the store.
    """
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if obstore_forked():
            return getattr(self.sdk, name)(*args, **kwargs)
        return method(self, *args, **kwargs)

    return cast("_M", wrapper)

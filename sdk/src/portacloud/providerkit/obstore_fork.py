"""obstore and ``fork()``: a forked child serves its obstore drivers through their SDK drivers.

obstore runs every request on a tokio runtime that lives in the process that first used it.
``fork()`` copies only the calling thread, so in a child forked after that (``multiprocessing``
and ``concurrent.futures.ProcessPoolExecutor`` with the ``fork`` start method, PyTorch's
``DataLoader`` workers, dask's process scheduler) every obstore call hangs, whether on a store
the parent made or on a new one (tokio-rs/tokio#4301; obstore 0.12.1 does the same). Such a
child therefore opens the SDK engine, and drivers it inherited send each call to the SDK driver
they wrap, which keeps the same semantics and reads the same objects.

Nor may such a child free an obstore object it inherited (a store, a read or listing stream):
freeing one wakes tasks on the parent's runtime, and when one of the parent's runtime threads
held the scheduler's lock at the instant of the fork, the child waits on that lock forever, deaf
to SIGTERM and SIGALRM handlers (seen: 1 child in 289 with two parent threads reading, on
``del store``). So each child keeps what its parent's obstore holders held as it forked, and
freezes the objects it inherited (:func:`gc.freeze`, as the ``gc`` docs advise for forked
children) so that a garbage cycle from the parent is never collected there.
"""

from __future__ import annotations

import functools
import gc
import os
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["hold_across_fork", "note_obstore_runtime", "obstore_forked", "sdk_after_fork"]

_M = TypeVar("_M", bound=Callable[..., Any])
_H = TypeVar("_H")

#: The process whose obstore calls started obstore's runtime (``None``: none yet).
_runtime_pid: int | None = None
#: The objects of this process whose attributes hold obstore objects (drivers, read streams).
_holders: weakref.WeakSet[Any] = weakref.WeakSet()
#: In a forked child: what its parent's holders held when it forked, never freed there.
_inherited: list[dict[str, Any]] = []


def note_obstore_runtime() -> None:
    """Record that this process uses obstore (called when a driver makes its store)."""
    global _runtime_pid  # noqa: PLW0603 - one fact per process, read on every call
    if _runtime_pid is None:
        _runtime_pid = os.getpid()


def hold_across_fork(holder: _H) -> _H:
    """Keep what ``holder``'s attributes hold alive in every child forked while it lives.

    Args:
        holder: An object whose attributes hold obstore objects (a driver, a read stream).

    Returns:
        ``holder``.
    """
    _holders.add(holder)
    return holder


def _keep_inherited() -> None:
    if _runtime_pid is None:
        return
    # The attributes as they were at the fork, so neither a holder dropping an attribute
    # (a stream closed, a driver closed) nor the holder itself being freed frees them.
    _inherited.extend(dict(vars(holder)) for holder in list(_holders))
    gc.freeze()


os.register_at_fork(after_in_child=_keep_inherited)


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

"""HTTP connection pools and ``fork()``: a forked child opens connections of its own.

A child forked from a process whose SDK clients pool keep-alive connections (``multiprocessing``
and ``concurrent.futures.ProcessPoolExecutor`` with the ``fork`` start method, PyTorch's
``DataLoader`` workers, dask's process scheduler) inherits those sockets along with the clients.
Used as they are, the parent and every sibling write requests into the same TCP connections and
read each other's answers: another object's body, a garbled answer, a read that waits forever.
boto3 and requests say as much: their clients are not fork-safe.

A provider therefore registers each object that owns pools (a boto3 client, a requests session)
with :func:`fresh_pools_in_children` when it builds it. In every child forked while the object
lives, before any code of the child runs, its ``renew`` function gives it fresh, empty pools
with the same settings; the clients themselves (credentials, hooks, options) are untouched.

The inherited pools are kept, never used and never closed: closing them in the child sends no
bytes, but would take the pools' locks, which a parent thread may have held when it forked.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["fresh_pools_in_children", "renew_requests_pools"]

_log = logging.getLogger("portacloud.providerkit")

_T = TypeVar("_T")

#: Live owners of pools, each with the function that renews them in a child.
_OWNERS: weakref.WeakKeyDictionary[Any, Callable[[Any], object]] = weakref.WeakKeyDictionary()
#: What the children's renewals replaced: the parent's connections, kept out of every use.
_INHERITED: list[object] = []


def fresh_pools_in_children(owner: _T, renew: Callable[[_T], object] | None = None) -> _T:
    """Give ``owner`` fresh connection pools in every child forked while it lives.

    Args:
        owner: An object that pools HTTP connections (a client, a session, a transport); it
            must accept weak references, so registering never keeps it alive.
        renew: Replaces ``owner``'s pools with empty ones of the same settings, touching
            neither the inherited pools nor their locks, and returns what it replaced.
            Default: :func:`renew_requests_pools` (``owner`` is a ``requests.Session``).

    Returns:
        ``owner``, for use in an expression.
    """
    _OWNERS[owner] = renew or renew_requests_pools
    return owner


def renew_requests_pools(session: Any) -> object:
    """Give a ``requests.Session`` fresh pools: each adapter is rebuilt as unpickling does.

    Adapters keep their settings (pool sizes, retries, a subclass's own SSL context); adapters
    without pools of their own (not ``HTTPAdapter``-like) are left as they are.

    Returns:
        The pool managers the adapters held before.
    """
    replaced: list[object] = []
    adapters = {id(adapter): adapter for adapter in session.adapters.values()}
    for adapter in adapters.values():
        if not hasattr(adapter, "init_poolmanager"):
            continue
        replaced.append((adapter.poolmanager, adapter.proxy_manager))
        # requests' own pickling protocol: the settings travel, the pools are made anew.
        adapter.__setstate__(adapter.__getstate__())
    return replaced


def _renew_all_in_child() -> None:
    for owner, renew in list(_OWNERS.items()):
        try:
            _INHERITED.append(renew(owner))
        except Exception:  # noqa: BLE001 - whatever it is, the child must go on
            # This owner alone would still share the parent's sockets: say so.
            _log.warning("could not renew %r's connection pools after fork", owner, exc_info=True)


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork()
    os.register_at_fork(after_in_child=_renew_all_in_child)

"""One libcloud driver per thread, and per process.

A libcloud ``Connection`` keeps the request being built in attributes (``action``, ``method``,
``data``) that its signers read back, so two threads sharing a driver can sign each other's
requests. Each thread therefore gets its own driver instance, built from the same arguments;
the thread that opened the URL keeps the first one. A process forked from it builds its own as
well: the drivers it inherited hold the parent's open connections, which the parent and every
sibling would otherwise write into at once (see :mod:`portacloud.providerkit.fork_pools`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["PerThread"]


class PerThread:
    """The libcloud driver of the calling thread."""

    def __init__(self, first: Any, factory: Callable[[], Any] | None) -> None:
        """Hold ``first`` for this thread and build others with ``factory``.

        Args:
            first: The driver instance already built (used by the current thread).
            factory: Builds another instance; ``None`` shares ``first`` with every thread
                (for drivers handed in ready-made, such as libcloud's recorded-response ones).
        """
        self.first: Any = first
        self._factory = factory
        self._owner = (os.getpid(), threading.get_ident())
        self._local = threading.local()

    def get(self) -> Any:
        """The calling thread's driver."""
        here = (os.getpid(), threading.get_ident())
        if self._factory is None or here == self._owner:
            return self.first
        # A forked child's thread finds the forking thread's locals: keyed by process too.
        mine: tuple[tuple[int, int], Any] | None = getattr(self._local, "driver", None)
        if mine is None or mine[0] != here:
            mine = (here, self._factory())
            self._local.driver = mine
        return mine[1]

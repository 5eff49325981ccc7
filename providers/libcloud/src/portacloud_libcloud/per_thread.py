"""One libcloud driver per thread.

A libcloud ``Connection`` keeps the request being built in attributes (``action``, ``method``,
``data``) that its signers read back, so two threads sharing a driver can sign each other's
requests. Each thread therefore gets its own driver instance, built from the same arguments;
the thread that opened the URL keeps the first one.
"""

from __future__ import annotations

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
        self._owner = threading.get_ident()
        self._local = threading.local()

    def get(self) -> Any:
        """The calling thread's driver."""
        if self._factory is None or threading.get_ident() == self._owner:
            return self.first
        driver = getattr(self._local, "driver", None)
        if driver is None:
            driver = self._factory()
            self._local.driver = driver
        return driver

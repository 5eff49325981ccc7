"""The native async data path a bucket driver may offer to :class:`~portacloud.AsyncBucket`.

A driver whose ``capabilities.native_async`` is true implements :class:`AsyncDataPath` next to
its blocking :class:`~portacloud.storage.driver.BucketDriver` methods. Each coroutine is one
try of one call, with the keys and options the portable layer has already checked: the
:class:`~portacloud.AsyncBucket` owns validation, retries (under the bucket's
:class:`~portacloud.retry.RetryPolicy`), error mapping (the driver's own ``map_error``) and
CRC32C checks, exactly as :class:`~portacloud.Bucket` does for the blocking methods.

A coroutine answers ``None`` (``False`` for :meth:`AsyncDataPath.delete_async`) where it cannot
serve the call with the blocking driver's semantics (a key its client would rewrite, a write
past one request, a range the server refuses, a delimiter listing...): the async bucket then
runs the blocking call on its thread pool, so both paths always agree.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from portacloud.errors import PortaCloudError
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.models import ListPage, ObjectInfo

__all__ = ["AsyncDataPath", "native_path"]


@runtime_checkable
class AsyncDataPath(Protocol):
    """Coroutines for the calls that dominate small-object work, one try each."""

    async def stat_async(self, key: str) -> ObjectInfo | None:
        """Describe ``key`` (NOT_FOUND if it does not exist), or ``None``: not served."""

    async def read_async(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, bytes] | None:
        """Bytes ``[start, end)`` of ``key`` (a negative start: a suffix) and the whole
        object's info, as :meth:`BucketDriver.read` would stream them; ``None``: not served."""

    def single_request(self, key: str, options: WriteOptions) -> bool:
        """Whether :meth:`put_async` serves a write of ``options.size_hint`` bytes to ``key``
        (asked before the body's CRC32C is computed)."""

    async def put_async(
        self, key: str, options: WriteOptions, body: bytes, crc32c: str
    ) -> ObjectInfo | None:
        """Write ``body`` in one request, create-only or compare-and-swap as ``options`` ask,
        recording ``crc32c``; ``None``: not served (nothing was sent)."""

    async def delete_async(self, key: str) -> bool:
        """Delete ``key`` (a missing key is no error); ``False``: not served."""

    async def list_page_async(self, options: ListOptions) -> ListPage | None:
        """One page of a listing, as :meth:`BucketDriver.list_page` gives it (its
        ``next_token`` good for either); ``None``: not served."""

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a native exception, as the blocking driver does."""


def native_path(driver: object) -> AsyncDataPath | None:
    """``driver``'s native async data path where its capabilities claim one, else ``None``."""
    capabilities = getattr(driver, "capabilities", None)
    if getattr(capabilities, "native_async", False) and isinstance(driver, AsyncDataPath):
        return driver
    return None

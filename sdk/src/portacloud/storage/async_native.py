"""The calls an :class:`~portacloud.AsyncBucket` serves on its driver's native async data path.

Each call keeps :class:`~portacloud.Bucket`'s semantics by using its own pieces: the key and
option checks, the length and CRC32C checks of reads, the error mapping (the driver's
``map_error``, with the same context) and the one retry owner, the bucket's
:class:`~portacloud.retry.RetryPolicy`, here as an asyncio loop that logs each retry as the
blocking one does. A call the driver does not serve natively answers ``None`` before any
request is retried, and the async bucket runs the blocking call on its thread pool instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from portacloud.errors import guarded_coroutine
from portacloud.retry import async_call_conditional_with_retry, async_call_with_retry
from portacloud.storage.async_driver import AsyncDataPath, native_path
from portacloud.storage.bucket import Bucket
from portacloud.storage.driver import ListOptions
from portacloud.storage.hashed import hashed
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud.storage.ranges import checked_read, parse_range, sized_range

__all__ = ["Gate", "NativeCalls", "native_calls"]

_T = TypeVar("_T")


class Gate:
    """At most ``limit`` native requests in flight, as the thread pool bounds blocking ones.

    Thousands of coroutines gathered at once would otherwise open as many connections at
    once; the bound keeps the load on the server what the pool made it. One semaphore per
    event loop, so a bucket outlives the loop it was first used on.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def __call__(self) -> asyncio.Semaphore:
        """The semaphore of the running loop."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.limit)
        return self._semaphore


def native_calls(bucket: Bucket, gate: Gate) -> NativeCalls | None:
    """The native calls of ``bucket``'s driver, or ``None`` where it has no native path.

    A bucket opened under a region policy has none: its checks may ask the provider for the
    bucket's region, a blocking call, so its calls all run on the thread pool.
    """
    if bucket._regions.policy is not None:
        return None
    path = native_path(bucket._driver)
    return None if path is None else NativeCalls(bucket, path, gate)


class NativeCalls:
    """``bucket``'s get, head, put of bytes, delete and listing pages on ``path``, as
    coroutines."""

    def __init__(self, bucket: Bucket, path: AsyncDataPath, gate: Gate) -> None:
        self._bucket = bucket
        self._path = path
        self._gate = gate

    async def _call(
        self,
        operation: str,
        key: str,
        fn: Callable[[], Awaitable[_T]],
        *,
        conditional: bool = False,
    ) -> _T:
        async def once() -> _T:
            async with self._gate():  # per try: a retry's backoff holds no slot
                return await guarded_coroutine(
                    fn,
                    map_error=self._path.map_error,
                    provider=self._bucket.provider,
                    operation=operation,
                    resource=key,
                )

        retrying = async_call_conditional_with_retry if conditional else async_call_with_retry
        return await retrying(self._bucket._retry, once)

    async def get(self, key: str, rng: tuple[int | None, int | None] | None) -> bytes | None:
        """See :meth:`Bucket.get <portacloud.Bucket.get>`; ``None``: not served."""
        full = self._bucket._full(key)
        start, end, needs_size = parse_range(rng)
        whole = rng is None or (start == 0 and end is None)
        path, provider = self._path, self._bucket.provider

        async def read_once() -> bytes | None:
            s, e = start, end
            if needs_size:
                info = await path.stat_async(full)
                if info is None:
                    return None
                bounds = sized_range(start, end, info.size)
                if bounds is None:
                    return b""
                s, e = bounds
            found = await path.read_async(full, start=s, end=e)
            if found is None:
                return None
            return checked_read(found[1], found[0], s, e, whole=whole, provider=provider)

        return await self._call("get", key, read_once)

    async def head(self, key: str) -> ObjectInfo | None:
        """See :meth:`Bucket.head <portacloud.Bucket.head>`; ``None``: not served."""
        full = self._bucket._full(key)
        info = await self._call("head", key, lambda: self._path.stat_async(full))
        return None if info is None else self._bucket._relative(info)

    async def put(self, key: str, data: object, **options: Any) -> ObjectInfo | None:
        """See :meth:`Bucket.put <portacloud.Bucket.put>` for ``bytes``-like ``data``;
        ``None``: not served (a stream, or a write past one request)."""
        full, body, checked = self._bucket._put_plan(key, data, **options)
        if body is None or not self._path.single_request(full, checked):
            return None  # a stream, or a write past one request: no CRC32C on the loop
        sent = hashed(body)
        conditional = checked.if_none_match or checked.if_match is not None
        info = await self._call(
            "put",
            key,
            lambda: self._path.put_async(full, checked, sent.data, sent.crc32c),
            conditional=conditional,
        )
        return None if info is None else self._bucket._relative(info)

    async def delete(self, key: str) -> bool:
        """See :meth:`Bucket.delete <portacloud.Bucket.delete>`; ``False``: not served."""
        full = self._bucket._full(key)
        return await self._call("delete", key, lambda: self._path.delete_async(full))

    async def list(
        self,
        options: ListOptions,
        prefix: str,
        blocking: Callable[[ListOptions], Awaitable[ListPage]],
    ) -> AsyncIterator[ObjectInfo | PrefixInfo]:
        """See :meth:`Bucket.list <portacloud.Bucket.list>` (``options`` checked by it): each
        page native where the driver serves it, else ``blocking(options)``."""
        entries = self._bucket._page_entries()
        token: str | None = None
        while True:
            page_options = replace(options, token=token)
            page = await self._call(
                "list", prefix, partial(self._path.list_page_async, page_options)
            )
            if page is None:
                page = await blocking(page_options)
            for entry in entries(page, token):
                yield entry
            if not page.next_token:
                return
            token = page.next_token

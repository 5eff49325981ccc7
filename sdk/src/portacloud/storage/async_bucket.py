"""The portable :class:`AsyncBucket`: :class:`~portacloud.Bucket`'s methods as coroutines.

Where the driver has a native async data path (``capabilities.native_async``: the obstore
engine of S3 and Azure), the calls it serves (``get``, ``head`` and ``exists``; on S3 also
``put`` of bytes, ``delete`` and listing pages) are native coroutines (:mod:`.async_native`),
with the bucket's own validation, retries and CRC32C checks. Every other call, and every call
on other drivers, runs the blocking bucket's code on a bounded thread pool of the
``AsyncBucket`` and awaits it: the event loop never blocks. ``max_workers`` bounds the threads,
and the native requests in flight, however many coroutines are gathered. A cancelled call on
the pool stops being awaited, but its request runs to its end on its thread, as with
:func:`asyncio.to_thread`; a cancelled native call stops its request.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

from portacloud.errors import InvalidArgumentError, NotFoundError
from portacloud.storage.async_files import AsyncReader, AsyncWriter, Opening, sync_chunks
from portacloud.storage.async_native import Gate, NativeCalls, native_calls
from portacloud.storage.bucket import Bucket, PutData
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.models import ObjectInfo, PrefixInfo
from portacloud.storage.streams import ObjectWriter

if TYPE_CHECKING:
    from portacloud.storage.erase import EraseResult

__all__ = ["DEFAULT_MAX_WORKERS", "AsyncBucket"]

_T = TypeVar("_T")

#: Threads per :class:`AsyncBucket` (shared with its children) unless told otherwise.
DEFAULT_MAX_WORKERS = 16
#: Listing entries fetched per trip to the thread pool: ``Bucket.list``'s default page.
_LIST_BATCH = 1000


class _Pool:
    """The thread pool of an AsyncBucket and its children, made on first use, and the gate
    that bounds their native requests alike."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self.gate = Gate(max_workers)
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_workers, "portacloud-async")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class AsyncBucket:
    """A bucket (or a prefix inside one) on any backend, for asyncio programs.

    Open one with :func:`portacloud.open_async_bucket`. Its methods are those of
    :class:`~portacloud.Bucket` as coroutines, with the same arguments, models and errors;
    ``list`` is an async iterator and ``open`` an async context manager.

    .. code-block:: python

        async with portacloud.open_async_bucket("s3://bucket/prefix") as bucket:
            await bucket.put("a.txt", b"hello")
            blobs = await asyncio.gather(*(bucket.get(k) for k in keys))
            async for info in bucket.list("runs/"):
                ...
    """

    def __init__(self, bucket: Bucket, *, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        """Wrap an open :class:`~portacloud.Bucket`.

        Args:
            bucket: The bucket whose calls run on the pool; closed with this handle.
            max_workers: Threads at most, and native requests at most in flight, shared with
                children (1 to 256).
        """
        if isinstance(max_workers, bool) or not isinstance(max_workers, int):
            raise InvalidArgumentError("max_workers must be an int")
        if not 1 <= max_workers <= 256:
            raise InvalidArgumentError(f"max_workers must be 1 to 256, not {max_workers}")
        self._bucket = bucket
        self._pool = _Pool(max_workers)

    def __repr__(self) -> str:
        return f"AsyncBucket({self._bucket.url!r})"

    # ----------------------------------------------------------------- properties

    @property
    def bucket(self) -> Bucket:
        """The blocking :class:`~portacloud.Bucket` behind this one."""
        return self._bucket

    @property
    def url(self) -> str:
        """The URL this handle was opened with."""
        return self._bucket.url

    @property
    def prefix(self) -> str:
        """The key prefix every call is relative to."""
        return self._bucket.prefix

    @property
    def provider(self) -> str:
        """The backend's short name."""
        return self._bucket.provider

    @property
    def capabilities(self) -> StorageCapabilities:
        """What the backend can do; ``native_async`` says whether the data path is native
        coroutines or runs on threads."""
        return self._bucket.capabilities

    @cached_property
    def _native(self) -> NativeCalls | None:
        return native_calls(self._bucket, self._pool.gate)

    def child(self, prefix: str) -> AsyncBucket:
        """An async bucket relative to ``prefix`` inside this one, on the same thread pool."""
        child = AsyncBucket(self._bucket.child(prefix), max_workers=self._pool.max_workers)
        child._pool = self._pool
        return child

    # ----------------------------------------------------------------- calls

    async def region(self) -> str | None:
        """See :meth:`Bucket.region <portacloud.Bucket.region>`."""
        return await self._pool.run(self._bucket.region)

    async def put(
        self,
        key: str,
        data: PutData | AsyncIterable[bytes],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        """See :meth:`Bucket.put <portacloud.Bucket.put>`; ``data`` may also be an async
        iterable of ``bytes`` chunks, streamed with bounded memory."""
        options: dict[str, Any] = {
            "content_type": content_type,
            "metadata": metadata,
            "if_none_match": if_none_match,
            "if_match": if_match,
        }
        body: PutData
        if isinstance(data, AsyncIterable):
            body = sync_chunks(data, asyncio.get_running_loop())
        else:
            body = data
            native = self._native
            stored = None if native is None else await native.put(key, body, **options)
            if stored is not None:
                return stored
        return await self._pool.run(self._bucket.put, key, body, **options)

    async def head(self, key: str) -> ObjectInfo:
        """See :meth:`Bucket.head <portacloud.Bucket.head>`."""
        native = self._native
        info = None if native is None else await native.head(key)
        return info if info is not None else await self._pool.run(self._bucket.head, key)

    async def exists(self, key: str) -> bool:
        """See :meth:`Bucket.exists <portacloud.Bucket.exists>`."""
        try:
            await self.head(key)
        except NotFoundError:
            return False
        return True

    async def get(self, key: str, *, range: tuple[int | None, int | None] | None = None) -> bytes:
        """See :meth:`Bucket.get <portacloud.Bucket.get>`."""
        native = self._native
        data = None if native is None else await native.get(key, range)
        return (
            data if data is not None else await self._pool.run(self._bucket.get, key, range=range)
        )

    @overload
    def open(self, key: str, mode: Literal["rb"] = "rb") -> Opening[AsyncReader]: ...

    @overload
    def open(
        self,
        key: str,
        mode: Literal["wb"],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> Opening[AsyncWriter]: ...

    def open(
        self, key: str, mode: Literal["rb", "wb"] = "rb", **options: Any
    ) -> Opening[AsyncReader] | Opening[AsyncWriter]:
        """See :meth:`Bucket.open <portacloud.Bucket.open>`: ``async with b.open(k) as f``
        (or ``f = await b.open(k)``), then ``await f.read()`` / ``await f.write(data)``."""
        if mode == "wb":

            async def writer() -> AsyncWriter:
                raw = await self._pool.run(_open_writer, self._bucket, key, options)
                return AsyncWriter(raw, self._pool.run)

            return Opening(writer)

        async def reader() -> AsyncReader:
            raw = await self._pool.run(self._bucket.open, key, mode, **options)
            return AsyncReader(raw, self._pool.run)

        return Opening(reader)

    async def delete(self, key: str) -> None:
        """See :meth:`Bucket.delete <portacloud.Bucket.delete>`."""
        native = self._native
        if native is None or not await native.delete(key):
            await self._pool.run(self._bucket.delete, key)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """See :meth:`Bucket.delete_many <portacloud.Bucket.delete_many>`."""
        await self._pool.run(self._bucket.delete_many, keys)

    async def erase(
        self,
        prefix: str,
        *,
        dry_run: bool = False,
        whole_bucket: bool = False,
        receipt: str | os.PathLike[str] | None = None,
    ) -> EraseResult:
        """See :meth:`Bucket.erase <portacloud.Bucket.erase>`."""
        return await self._pool.run(
            self._bucket.erase,
            prefix,
            dry_run=dry_run,
            whole_bucket=whole_bucket,
            receipt=receipt,
        )

    def list(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        start_after: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ObjectInfo | PrefixInfo]:
        """See :meth:`Bucket.list <portacloud.Bucket.list>`: ``async for info in b.list()``.

        The arguments are checked at once (no request is made); entries are then fetched a
        page at a time (natively where the driver can, else on the pool), each page only when
        the one before is used up, so keys written after the cursor are listed as by
        ``Bucket.list``.
        """
        bucket = self._bucket
        native = self._native
        if native is None:
            entries = bucket.list(
                prefix, delimiter=delimiter, start_after=start_after, page_size=page_size
            )
            return self._pages(entries, page_size or _LIST_BATCH)
        options = bucket._list_options(prefix, delimiter, start_after, page_size)
        return native.list(
            options, prefix, partial(self._pool.run, bucket._list_page, prefix=prefix)
        )

    async def _pages(
        self, entries: Iterator[ObjectInfo | PrefixInfo], size: int
    ) -> AsyncIterator[ObjectInfo | PrefixInfo]:
        while True:
            batch = await self._pool.run(_take, entries, size)
            for entry in batch:
                yield entry
            if len(batch) < size:
                return

    async def copy(
        self, src_key: str, dst_key: str, *, if_none_match: str | None = None
    ) -> ObjectInfo:
        """See :meth:`Bucket.copy <portacloud.Bucket.copy>`."""
        return await self._pool.run(
            self._bucket.copy, src_key, dst_key, if_none_match=if_none_match
        )

    async def signed_url(
        self,
        key: str,
        *,
        method: Literal["GET", "PUT"] = "GET",
        expires: timedelta | int = 3600,
        content_type: str | None = None,
    ) -> str:
        """See :meth:`Bucket.signed_url <portacloud.Bucket.signed_url>`."""
        return await self._pool.run(
            self._bucket.signed_url, key, method=method, expires=expires, content_type=content_type
        )

    async def collect_garbage(self, *, older_than: timedelta | int = 3600) -> builtins.list[str]:
        """See :meth:`Bucket.collect_garbage <portacloud.Bucket.collect_garbage>`."""
        return await self._pool.run(self._bucket.collect_garbage, older_than=older_than)

    def as_native(self, native_type: type[_T]) -> _T | None:
        """See :meth:`Bucket.as_native <portacloud.Bucket.as_native>` (a blocking client)."""
        return self._bucket.as_native(native_type)

    # ----------------------------------------------------------------- lifetime

    async def aclose(self) -> None:
        """Close the bucket's connections and stop the thread pool."""
        await self._pool.run(self._bucket.close)
        self._pool.shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _open_writer(bucket: Bucket, key: str, options: Mapping[str, Any]) -> ObjectWriter:
    return bucket.open(key, "wb", **options)


def _take(entries: Iterator[_T], count: int) -> builtins.list[_T]:
    """Up to ``count`` items of ``entries`` (fewer only at the end)."""
    taken: builtins.list[_T] = []
    for entry in entries:
        taken.append(entry)
        if len(taken) == count:
            break
    return taken

"""Async file objects of :class:`~portacloud.storage.async_bucket.AsyncBucket`, and the
bridges between async and sync byte sources."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from portacloud.storage.models import ObjectInfo
from portacloud.storage.streams import ObjectWriter

__all__ = ["AsyncReader", "AsyncWriter", "Opening", "sync_chunks"]

_F = TypeVar("_F", bound="AsyncReader | AsyncWriter")

#: Runs a blocking call on the bucket's bounded thread pool.
Runner = Callable[..., Awaitable[Any]]


class AsyncReader:
    """A streamed object read, its blocking reads run on the bucket's thread pool.

    Reads are buffered and checked against the object's CRC32C when read from start to end,
    as with :meth:`Bucket.open <portacloud.Bucket.open>`.
    """

    def __init__(self, raw: io.BufferedReader, run: Runner) -> None:
        self._raw = raw
        self._run = run

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left with ``-1``); ``b""`` at the end."""
        data: bytes = await self._run(self._raw.read, size)
        return data

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset``; returns the new position."""
        position: int = await self._run(self._raw.seek, offset, whence)
        return position

    def tell(self) -> int:
        """The current position."""
        return self._raw.tell()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The object in chunks of the buffer's size."""
        while chunk := await self.read(io.DEFAULT_BUFFER_SIZE * 16):
            yield chunk

    async def aclose(self) -> None:
        """Release the connection."""
        await self._run(self._raw.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AsyncWriter:
    """A streamed object write: the object appears when it is closed cleanly, never before.

    Leaving an ``async with`` block by an exception discards the write.
    """

    def __init__(self, raw: ObjectWriter, run: Runner) -> None:
        self._raw = raw
        self._run = run

    @property
    def info(self) -> ObjectInfo | None:
        """What was stored, once closed."""
        return self._raw.info

    async def write(self, data: bytes) -> int:
        """Buffer (and upload, as parts fill) ``data``."""
        written: int = await self._run(self._raw.write, data)
        return written

    async def aclose(self) -> None:
        """Commit the object."""
        await self._run(self._raw.close)

    async def abort(self) -> None:
        """Discard the write: no object appears."""
        await self._run(self._raw.abort)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._run(self._raw.__exit__, exc_type, exc, tb)


class Opening(Generic[_F]):
    """What ``AsyncBucket.open`` returns: awaitable (``f = await b.open(k)``) and an async
    context manager (``async with b.open(k) as f``), as aiofiles' ``open`` is."""

    def __init__(self, opener: Callable[[], Awaitable[_F]]) -> None:
        self._opener: Callable[[], Awaitable[_F]] = opener
        self._file: _F | None = None

    def __await__(self) -> Generator[Any, None, _F]:
        opened: _F = yield from self._opener().__await__()
        return opened

    async def __aenter__(self) -> _F:
        self._file = await self._opener()
        return self._file

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._file is not None
        await self._file.__aexit__(exc_type, exc, tb)


def sync_chunks(source: AsyncIterable[bytes], loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """The chunks of an async source, for a blocking writer on a pool thread to pull.

    Each chunk is fetched on ``loop`` (where the source lives) while the pool thread waits;
    the loop keeps running meanwhile, since the coroutine that awaits the write is suspended.
    """
    iterator = aiter(source)
    while True:
        future = asyncio.run_coroutine_threadsafe(_next_or_none(iterator), loop)
        chunk = future.result()
        if chunk is None:
            return
        yield chunk


async def _next_or_none(iterator: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(iterator)
    except StopAsyncIteration:
        return None

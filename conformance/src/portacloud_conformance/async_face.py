"""The blocking face of an :class:`~portacloud.AsyncBucket`, so that one storage suite runs
against both faces (``--portacloud-face async``) without a second copy of the tests.

Every call goes through the async bucket's coroutines on an event loop in a thread of its
own; only what the suite reaches through fsspec uses the blocking bucket behind it.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import portacloud
from portacloud.storage.async_files import AsyncReader, AsyncWriter

__all__ = ["EventLoopThread", "SyncFace"]

_T = TypeVar("_T")


class EventLoopThread:
    """An event loop running in a daemon thread, for blocking callers to submit to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="conformance-async-face", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the loop and wait for its result (or its error)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class SyncFace:
    """:class:`~portacloud.Bucket`'s blocking API, each call an AsyncBucket coroutine."""

    def __init__(self, inner: portacloud.AsyncBucket, loop: EventLoopThread) -> None:
        self.inner = inner
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if inspect.iscoroutinefunction(found):
            return self._blocking(found)
        return found

    def _blocking(self, method: Callable[..., Coroutine[Any, Any, _T]]) -> Callable[..., _T]:
        def call(*args: Any, **kwargs: Any) -> _T:
            return self._loop.run(method(*args, **kwargs))

        return call

    @property
    def blocking(self) -> portacloud.Bucket:
        """The blocking bucket behind the async one (for the fsspec face)."""
        return self.inner.bucket

    def child(self, prefix: str) -> SyncFace:
        return SyncFace(self.inner.child(prefix), self._loop)

    def list(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        entries = self.inner.list(*args, **kwargs)  # bad arguments raise here, as Bucket's do
        return self._drain(entries)

    def _drain(self, entries: Any) -> Iterator[Any]:
        while True:
            try:
                yield self._loop.run(anext(entries))
            except StopAsyncIteration:
                return

    def open(self, key: str, mode: str = "rb", **options: Any) -> Any:
        async def opened() -> AsyncReader | AsyncWriter:
            handle: AsyncReader | AsyncWriter = await self.inner.open(key, mode, **options)  # type: ignore[call-overload]
            return handle

        handle = self._loop.run(opened())
        if isinstance(handle, AsyncWriter):
            return _Writer(handle, self._loop)
        return io.BufferedReader(_Reader(handle, self._loop))

    def close(self) -> None:
        self._loop.run(self.inner.aclose())

    def __enter__(self) -> SyncFace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Reader(io.RawIOBase):
    def __init__(self, inner: AsyncReader, loop: EventLoopThread) -> None:
        super().__init__()
        self._inner = inner
        self._loop = loop

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._loop.run(self._inner.read(len(buffer)))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._loop.run(self._inner.seek(offset, whence))

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        if not self.closed:
            self._loop.run(self._inner.aclose())
        super().close()


class _Writer:
    def __init__(self, inner: AsyncWriter, loop: EventLoopThread) -> None:
        self._inner = inner
        self._loop = loop

    @property
    def info(self) -> portacloud.ObjectInfo | None:
        return self._inner.info

    def write(self, data: bytes) -> int:
        return self._loop.run(self._inner.write(data))

    def close(self) -> None:
        self._loop.run(self._inner.aclose())

    def abort(self) -> None:
        self._loop.run(self._inner.abort())

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._loop.run(self._inner.__aexit__(*exc_info))

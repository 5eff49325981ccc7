"""Read streams a driver returns from ``read``: what every SDK's response body turns into."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["CHUNK_SIZE", "BodyStream", "BytesStream", "ChunkStream", "EmptyStream"]

CHUNK_SIZE = 1024 * 1024


class EmptyStream:
    """The body of a zero-length read: nothing to yield, nothing to release."""

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Nothing is open."""


class BytesStream:
    """A body already in memory, yielded as one chunk."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        data, self._data = self._data, b""
        if data:
            yield data

    def close(self) -> None:
        self._data = b""


class BodyStream:
    """A response body with ``read(n)`` (botocore's StreamingBody, urllib3, requests.raw...).

    Read ``chunk_size`` at a time so memory stays bounded; ``close`` releases the connection
    (``on_close``, or the body's own ``close``), whether or not the body was read out.
    """

    def __init__(
        self,
        body: Any,
        *,
        chunk_size: int = CHUNK_SIZE,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._body: Any = body
        self._chunk_size = chunk_size
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self._body is not None:
                chunk = self._body.read(self._chunk_size)
                if not chunk:
                    break
                yield bytes(chunk)
        finally:
            self.close()

    def close(self) -> None:
        body, self._body = self._body, None
        _release(body, self._on_close)


class ChunkStream:
    """A body an SDK hands over as an iterable of chunks (a generator, an iterator of bytes).

    Empty chunks are skipped. ``on_chunk`` sees every chunk (a running checksum) and
    ``on_end`` runs once the body was read out; ``close`` stops a generator early.
    """

    def __init__(
        self,
        chunks: Iterable[bytes | bytearray | memoryview],
        *,
        on_chunk: Callable[[bytes], None] | None = None,
        on_end: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._chunks: Iterable[bytes | bytearray | memoryview] | None = chunks
        self._on_chunk = on_chunk
        self._on_end = on_end
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._chunks
        if chunks is None:
            return
        try:
            for chunk in chunks:
                data = bytes(chunk)
                if not data:
                    continue
                if self._on_chunk is not None:
                    self._on_chunk(data)
                yield data
            if self._on_end is not None:
                self._on_end()
        finally:
            self.close()

    def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        _release(chunks, self._on_close)


def _release(source: object, on_close: Callable[[], None] | None) -> None:
    """Close a body once: ``on_close`` if given, else the body's own ``close``."""
    if source is None:
        return
    close = on_close or getattr(source, "close", None)
    if callable(close):
        # A connection dropped mid-body may complain while closing: the caller is done.
        with contextlib.suppress(Exception):
            close()

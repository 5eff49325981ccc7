"""File objects over a driver: streaming reads and writes with bounded memory."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Protocol, TypeVar

from portacloud.checksums import Crc32c
from portacloud.errors import ChecksumMismatchError, InternalError, InvalidArgumentError
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud.storage.driver import DriverWriter, ReadStream
from portacloud.storage.hashed import HashingReader
from portacloud.storage.models import ObjectInfo

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Guard", "ObjectReader", "ObjectWriter", "chunks_of", "verify_crc32c"]

_T = TypeVar("_T")
_STREAM_CHUNK = 8 * 1024 * 1024


class Guard(Protocol):
    """Runs a driver call, turning native failures into portacloud errors."""

    def __call__(self, fn: Callable[[], _T], /) -> _T: ...


def verify_crc32c(info: ObjectInfo, actual: str, *, provider: str) -> None:
    """Raise :class:`ChecksumMismatchError` if ``actual`` differs from the recorded CRC32C."""
    expected = info.crc32c
    if expected is not None and expected != actual:
        # Retryable: reading again is safe and usually gets good bytes (0001-retries.md).
        raise ChecksumMismatchError(
            f"read CRC32C {actual} but the object was written with {expected}; "
            "the bytes were corrupted or truncated in transit",
            provider=provider,
            operation="get",
            resource=info.key,
            retryable=True,
        )


class ObjectReader(io.RawIOBase):
    """A seekable, read-only raw stream over one object.

    Bytes are fetched lazily from the current position; a seek closes the open read and the
    next read reopens at the new offset. When the object is read from start to end without a
    seek, its CRC32C is checked at the end and a mismatch raises instead of returning EOF.

    A read that breaks off mid-body with a retryable error is reopened at the position reached,
    under ``retry``: this reader is the one retry owner of its reopens, so ``reopen`` must not
    retry on its own (docs/decisions/0001-retries.md).
    """

    def __init__(
        self,
        info: ObjectInfo,
        stream: ReadStream,
        *,
        reopen: Callable[[int], ReadStream],
        guard: Guard,
        provider: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.info = info
        self._stream: ReadStream | None = stream
        self._chunks: Iterator[bytes] | None = iter(stream)
        self._reopen = reopen
        self._guard = guard
        self._provider = provider
        self._retry = retry or RetryPolicy(attempts=1)
        self._pos = 0
        self._pending = b""
        self._crc: Crc32c | None = Crc32c()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.info.size}[whence]
        target = base + offset
        if target < 0:
            raise InvalidArgumentError(f"seek to {target}, before the start of the object")
        if target != self._pos:
            self._drop_stream()
            self._crc = None  # a skipped or repeated byte makes the whole-object check moot
            self._pos = target
        return self._pos

    def leave_check_to_caller(self) -> bool:
        """Stop hashing here: the caller hashes every byte it reads and checks ``info.crc32c``.

        Possible only before the first byte is read (the caller's hash must cover them all),
        which is what the return value says. A migration does it so that one computation both
        checks the source and becomes the destination's record.
        """
        if self._pos != 0:
            return False
        self._crc = None
        return True

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream = None
        self._chunks = None
        self._pending = b""

    def _next_chunk(self) -> bytes:
        if self._chunks is None:
            if self._pos >= self.info.size:
                return b""
            self._stream = self._reopen(self._pos)
            self._chunks = iter(self._stream)
        return next(self._chunks, b"")

    def _fetch(self) -> bytes:
        try:
            return self._guard(self._next_chunk)
        except BaseException:
            # Whatever was delivered stays delivered: the next try reopens at self._pos.
            self._drop_stream()
            raise

    def readinto(self, buffer: Buffer) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending:
            chunk = call_with_retry(self._retry, self._fetch)
            if not chunk:
                self._finish()
                return 0
            self._pending = chunk
        n = min(len(view), len(self._pending))
        taken = self._pending[:n]
        view[:n] = taken
        if self._crc is not None:
            self._crc.update(taken)
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def _finish(self) -> None:
        if self._crc is not None and self._pos == self.info.size:
            verify_crc32c(self.info, self._crc.hexdigest(), provider=self._provider)
        self._crc = None

    def close(self) -> None:
        if not self.closed:
            self._drop_stream()
        super().close()


class ObjectWriter(io.RawIOBase):
    """A write-only stream that becomes an object only when closed cleanly.

    Leaving a ``with`` block by an exception, calling :meth:`abort`, or dropping the writer
    without closing it discards everything: a failed write never leaves an object.

    The object's CRC32C is computed from the bytes written, or, with ``hashed_by``, taken from
    the body that hashed exactly those bytes as it handed them out (``Bucket.put`` of a
    :class:`~portacloud.storage.hashed.HashingReader` it read from its first byte to EOF).
    """

    def __init__(
        self,
        writer: DriverWriter,
        *,
        guard: Guard,
        relative: Callable[[ObjectInfo], ObjectInfo],
        hashed_by: HashingReader | None = None,
    ) -> None:
        super().__init__()
        self._writer = writer
        self._guard = guard
        self._relative = relative
        self._crc = Crc32c() if hashed_by is None else None
        self._hashed_by = hashed_by
        self._written = 0
        self._done = False
        self.info: ObjectInfo | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:
        if self.closed:
            raise ValueError("write to a closed ObjectWriter")
        chunk = bytes(data)
        if self._crc is not None:
            self._crc.update(chunk)
        self._written += len(chunk)
        try:
            self._guard(lambda: self._writer.write(chunk))
        except BaseException:
            self.abort()
            raise
        return len(chunk)

    def close(self) -> None:
        """Commit the object (once); an error while committing discards it."""
        if self._done:
            super().close()
            return
        self._done = True
        try:
            crc = self._crc32c()
            self.info = self._relative(self._guard(lambda: self._writer.commit(crc32c=crc)))
        except BaseException:
            self._writer.abort()
            raise
        finally:
            super().close()

    def _crc32c(self) -> str:
        if self._crc is not None:
            return self._crc.hexdigest()
        body = self._hashed_by
        assert body is not None
        if not body.at_eof or body.count != self._written:
            # The body's checksum would not describe what was sent: never record it.
            raise InternalError(
                f"the body hashed {body.count} bytes (at EOF: {body.at_eof}) but "
                f"{self._written} were written; the write was discarded"
            )
        return body.crc32c()

    def abort(self) -> None:
        """Discard the write; nothing becomes visible."""
        if not self._done:
            self._done = True
            self._writer.abort()
        super().close()

    def __exit__(self, exc_type: type[BaseException] | None, *exc_rest: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # io.IOBase.__del__ would close(), i.e. commit a possibly partial object.
        if not self._done:
            self._done = True
            self._writer.abort()


def chunks_of(data: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    """The non-empty byte chunks of a binary file object (8 MiB reads) or a bytes iterable."""
    read = getattr(data, "read", None)
    if callable(read):
        while chunk := read(_STREAM_CHUNK):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise InvalidArgumentError("the file object must be opened in binary mode ('rb')")
            yield bytes(chunk)
        return
    if not isinstance(data, Iterable):
        raise InvalidArgumentError(
            f"data must be bytes, a binary file or an iterable of bytes, not {type(data).__name__}"
        )
    for chunk in data:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidArgumentError(
                f"the data iterator yielded {type(chunk).__name__}; it must yield bytes"
            )
        if chunk:
            yield bytes(chunk)

"""The file objects :meth:`PortaCloudFileSystem.open` returns (``rb``, ``wb``, ``xb``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fsspec.caching import ReadAheadCache, caches, register_cache
from fsspec.spec import AbstractBufferedFile

from portacloud.fsspec.errors import translated

if TYPE_CHECKING:
    from portacloud.fsspec.filesystem import PortaCloudFileSystem
    from portacloud.storage.streams import ObjectWriter

__all__ = ["DEFAULT_CACHE_TYPE", "PortaCloudFile", "SequentialReadAheadCache"]


class SequentialReadAheadCache(ReadAheadCache):  # type: ignore[misc]  # fsspec is untyped
    """Read ahead only while reads are sequential.

    fsspec's ``readahead`` adds a whole block to every miss, so a parquet reader that jumps to
    the footer and then to one column chunk fetches a block of unused columns each time (the
    waste dask#8132 describes). Here a read that does not continue from the previous one
    fetches exactly the bytes asked for; reading on from where the last read stopped (CSV,
    ``get_file``) gets the block of read-ahead as before. A file no bigger than one block is
    fetched whole by its first read.
    """

    name = "portacloud-sequential"

    def __init__(self, blocksize: int, fetcher: Any, size: int) -> None:
        super().__init__(blocksize, fetcher, size)
        self._next = 0

    def _fetch(self, start: int | None, end: int | None) -> bytes:
        start = 0 if start is None else start
        end = self.size if end is None or end > self.size else end
        if start >= self.size or start >= end:
            return b""
        if self.size <= self.blocksize and not self.cache:
            # A file no bigger than one block comes in one request, not footer-then-body.
            self._fill(0, self.size)
        if start == self._next or (self.start <= start and end <= self.end):
            out: bytes = super()._fetch(start, end)
        else:
            self._fill(start, end)
            out = self.cache
        self._next = end
        return out

    def _fill(self, start: int, end: int) -> None:
        self.miss_count += 1
        self.total_requested_bytes += end - start
        self.cache = self.fetcher(start, end)
        self.start, self.end = start, start + len(self.cache)


if SequentialReadAheadCache.name not in caches:
    register_cache(SequentialReadAheadCache)

#: What ``open(path, "rb")`` reads through unless ``cache_type`` says otherwise.
DEFAULT_CACHE_TYPE = SequentialReadAheadCache.name


class PortaCloudFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A buffered file over one object.

    Reads go through fsspec's block caches (``cache_type``), each miss one ranged GET. Writes
    stream through the bucket's own writer, ``block_size`` bytes at a time (multipart where the
    backend has it), and the object appears only on a clean close: leaving a ``with`` block by
    an exception discards it. ``"xb"`` is create-only: it fails at open when the object
    exists, and the final write is conditional, so a racing writer cannot be overwritten.
    """

    fs: PortaCloudFileSystem

    def __init__(
        self,
        fs: PortaCloudFileSystem,
        path: str,
        mode: str = "rb",
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._writer: ObjectWriter | None = None
        self._content_type = content_type
        self._metadata = metadata
        super().__init__(fs, path, mode, **kwargs)

    def _initiate_upload(self) -> None:
        exclusive = "*" if self.mode == "xb" else None
        with translated(self.path):
            self._writer = self.fs.bucket.open(
                self.fs.key(self.path),
                "wb",
                content_type=self._content_type,
                metadata=self._metadata,
                if_none_match=exclusive,
            )

    def _upload_chunk(self, final: bool = False) -> bool:
        assert self._writer is not None  # flush() initiates before the first chunk
        with translated(self.path):
            self._writer.write(self.buffer.getbuffer())
            if final and self.autocommit:
                self._writer.close()
        return True

    def commit(self) -> None:
        """Make the object visible (inside a transaction, where autocommit is off)."""
        if self._writer is None:  # nothing written yet: an empty object
            self._initiate_upload()
        assert self._writer is not None
        with translated(self.path):
            self._writer.close()
        self.fs.invalidate_cache(self.path)

    def discard(self) -> None:
        """Throw the write away; nothing becomes visible."""
        if self._writer is not None:
            self._writer.abort()

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start=start, end=end)

    def __exit__(self, exc_type: type[BaseException] | None, *exc_rest: object) -> None:
        # fsspec's default closes (commits) whatever was written; a failed block must not
        # leave a truncated object behind.
        if exc_type is not None and self.writable():
            self.discard()
            self.closed = True
            return
        self.close()

"""The file objects :meth:`PortaCloudFileSystem.open` returns (``rb``, ``wb``, ``xb``)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile

from portacloud.fsspec.errors import translated

if TYPE_CHECKING:
    from portacloud.fsspec.filesystem import PortaCloudFileSystem
    from portacloud.storage.streams import ObjectWriter

__all__ = ["PortaCloudFile"]


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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # fsspec's default closes (commits) whatever was written; a failed block must not
        # leave a truncated object behind.
        if exc_type is not None and self.writable():
            self.discard()
            self.closed = True
            return
        self.close()

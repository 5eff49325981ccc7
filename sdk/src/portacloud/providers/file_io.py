"""Reading and writing the bytes of one ``file://`` object."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress
from typing import TYPE_CHECKING

from portacloud.errors import InvalidArgumentError
from portacloud.providers.file_meta import Record, etag_of, set_xattr

if TYPE_CHECKING:
    from pathlib import Path

    from portacloud.providers.local import FileDriver
    from portacloud.storage.driver import WriteOptions
    from portacloud.storage.models import ObjectInfo

__all__ = ["CHUNK", "FileStream", "FileWriter"]

CHUNK = 1024 * 1024


class FileStream:
    """Reads ``[start, end)`` of an open file descriptor in 1 MiB chunks."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self._fd: int | None = fd
        self._pos = start
        self._end = end

    def __iter__(self) -> Iterator[bytes]:
        while self._fd is not None and self._pos < self._end:
            chunk = os.pread(self._fd, min(CHUNK, self._end - self._pos), self._pos)
            if not chunk:
                break
            self._pos += len(chunk)
            yield chunk
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class FileWriter:
    """A temp file beside the target, renamed over it by :meth:`commit`."""

    def __init__(self, driver: FileDriver, key: str, path: Path, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._path = path
        self._options = options
        self._committed = False
        self._fd: int | None
        self._fd, self._tmp = driver.new_temp(key, path)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise InvalidArgumentError("write after the object was committed or aborted")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def commit(self, *, crc32c: str) -> ObjectInfo:
        if self._fd is None:
            raise InvalidArgumentError("commit after the object was committed or aborted")
        fd, self._fd = self._fd, None
        try:
            st = os.fstat(fd)
            record: Record = {
                "etag": etag_of(st),
                "content_type": self._options.content_type,
                "metadata": dict(self._options.metadata),
                "crc32c": crc32c,
            }
            # Before the rename, so that the bytes and their record appear together. Setting
            # an xattr changes ctime only: the etag (inode, mtime, size) stays what it was.
            in_xattr = set_xattr(fd, record)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            info = self._driver.commit(
                key=self._key,
                path=self._path,
                tmp=self._tmp,
                st=st,
                options=self._options,
                record=record,
                in_xattr=in_xattr,
            )
            self._committed = True
            return info
        finally:
            self.abort()

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with suppress(FileNotFoundError):
            self._tmp.unlink()
        if not self._committed:
            self._driver.prune_empty_dirs(self._path.parent)

"""``file:///abs/path``: a directory as a bucket.

Keys map to paths under the root (``a/b.txt`` is ``ROOT/a/b.txt``), so the data stays readable
with ordinary tools. portacloud's own state lives in ``ROOT/.portacloud/``:

- ``tmp/``: bodies being written. A write goes to a temp file, is fsynced and renamed into
  place, so an interrupted write leaves nothing visible.
- ``meta/<sha256(key)>.json``: content type, user metadata and CRC32C, tagged with the etag of
  the data file they describe. The etag is derived from the data file's inode, mtime and size,
  so a stale sidecar is detected rather than trusted.
- ``locks/<nn>``: 256 striped ``flock`` files. Commits of a key hold its stripe, which makes
  create-only and compare-and-swap atomic across threads and processes.

No key reaches outside the root: ``..``, absolute paths and NUL are refused by the portable
layer, and every path component is ``lstat``-ed here so that a symlink planted inside the root
is refused too.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import stat
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote

from portacloud.checksums import Crc32c
from portacloud.errors import (
    ChecksumMismatchError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    ResourceExhaustedError,
    UnavailableError,
)
from portacloud.providers.options import reject_unknown_options
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.listing import lower_bound, page_from_sorted
from portacloud.storage.models import ListPage, ObjectInfo

__all__ = ["FileDriver", "provider"]

SYSTEM_DIR = ".portacloud"
_CHUNK = 1024 * 1024
_STRIPES = 256
_CAPABILITIES = StorageCapabilities(
    key_max_segment_bytes=255,
    key_empty_segments=False,
    key_dot_segments=False,
    key_file_and_prefix=False,
    notes=(
        "keys are paths: no empty, '.' or '..' segments, 255 bytes per segment",
        "'a/b' and 'a/b/c' cannot both be objects (a file cannot be a directory)",
        f"the key segment {SYSTEM_DIR!r} is reserved (it holds a bucket's own state)",
    ),
)

# errno -> portacloud error, for OSErrors that are not about a specific rule below.
_ERRNO_TABLE: dict[int, type[PortaCloudError]] = {
    errno.ENOENT: NotFoundError,
    errno.EACCES: PermissionDeniedError,
    errno.EPERM: PermissionDeniedError,
    errno.EROFS: PermissionDeniedError,
    errno.ENOSPC: ResourceExhaustedError,
    errno.EDQUOT: ResourceExhaustedError,
    errno.EMFILE: ResourceExhaustedError,
    errno.ENAMETOOLONG: InvalidArgumentError,
    errno.ELOOP: InvalidArgumentError,
    errno.EIO: UnavailableError,
}


def _etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


class _FileStream:
    """Reads ``[start, end)`` of an open file descriptor in 1 MiB chunks."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self._fd: int | None = fd
        self._pos = start
        self._end = end

    def __iter__(self) -> Iterator[bytes]:
        while self._fd is not None and self._pos < self._end:
            chunk = os.pread(self._fd, min(_CHUNK, self._end - self._pos), self._pos)
            if not chunk:
                break
            self._pos += len(chunk)
            yield chunk
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _FileWriter:
    def __init__(self, driver: FileDriver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._options = options
        self._tmp = driver.tmp_dir / f"{uuid.uuid4().hex}.part"
        self._fd: int | None = os.open(
            self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644
        )

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
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        try:
            return self._driver.commit(self._key, self._tmp, st, self._options, crc32c)
        finally:
            self.abort()

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with suppress(FileNotFoundError):
            self._tmp.unlink()


class FileDriver:
    """A directory tree as a bucket; see the module docstring for the on-disk layout."""

    provider = "file"
    capabilities = _CAPABILITIES

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_str = str(root).rstrip("/")
        system = root / SYSTEM_DIR
        self.tmp_dir = system / "tmp"
        self._meta_dir = system / "meta"
        self._lock_dir = system / "locks"
        for d in (self.tmp_dir, self._meta_dir, self._lock_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._thread_locks = [threading.Lock() for _ in range(_STRIPES)]

    # ---------------------------------------------------------------- paths and locks

    def _path(self, key: str) -> Path:
        """Map a key to its path, refusing anything that could leave the root."""
        parts = key.split("/")
        if any(p in ("", ".", "..") or "\x00" in p for p in parts):
            raise InvalidArgumentError("key has an empty, '.' or '..' segment", resource=key)
        if SYSTEM_DIR in parts:
            raise InvalidArgumentError(f"the key segment {SYSTEM_DIR!r} is reserved", resource=key)
        path = self._root_str
        for part in parts:
            path = f"{path}/{part}"
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                break
            if stat.S_ISLNK(mode):
                raise InvalidArgumentError(
                    "the path of this key goes through a symlink inside the root; "
                    "the file backend never follows symlinks",
                    resource=key,
                )
        return Path(f"{self._root_str}/{key}")

    def _meta_path(self, key: str) -> Path:
        return self._meta_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        stripe = hashlib.sha256(key.encode()).digest()[0] % _STRIPES
        # flock excludes other processes; the thread lock excludes threads of this one, which
        # flock on separately opened descriptors would also do, but only on Linux.
        with self._thread_locks[stripe]:
            fd = os.open(self._lock_dir / f"{stripe:02x}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    # ---------------------------------------------------------------- metadata

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        try:
            with open(self._meta_path(key), "rb") as f:
                meta: dict[str, Any] = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return meta

    def _info(self, key: str, st: os.stat_result, meta: dict[str, Any] | None) -> ObjectInfo:
        etag = _etag(st)
        if meta is None or meta.get("etag") != etag:
            meta = {}  # a file placed by other tools, or a sidecar of another version
        checksums = {"crc32c": meta["crc32c"]} if meta.get("crc32c") else {}
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=etag,
            last_modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC),
            content_type=meta.get("content_type"),
            metadata=meta.get("metadata", {}),
            checksums=checksums,
        )

    def _open_object(self, key: str) -> tuple[int, ObjectInfo]:
        """Open a key's data file and describe exactly the version that is open."""
        path = self._path(key)
        for _ in range(5):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                raise NotFoundError("no such object", resource=key) from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise InvalidArgumentError(
                        "the key is a symlink inside the root; the file backend never follows "
                        "symlinks",
                        resource=key,
                    ) from exc
                raise
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                raise NotFoundError("no such object (a directory is not an object)", resource=key)
            meta = self._read_meta(key)
            if meta is None or meta.get("etag") == _etag(st):
                return fd, self._info(key, st, meta)
            os.close(fd)
            # The sidecar belongs to another version: a writer committed between our open and
            # our read of it. Its data rename follows at once, so try again.
            if _etag(os.stat(path, follow_symlinks=False)) == _etag(st):
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                return fd, self._info(key, os.fstat(fd), None)
        raise UnavailableError("the object kept changing while being opened", resource=key)

    # ---------------------------------------------------------------- driver API

    def stat(self, key: str) -> ObjectInfo:
        fd, info = self._open_object(key)
        os.close(fd)
        return info

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, _FileStream]:
        fd, info = self._open_object(key)
        begin = max(0, info.size + start) if start < 0 else min(start, info.size)
        stop = info.size if end is None else max(begin, min(end, info.size))
        return info, _FileStream(fd, begin, stop)

    def open_writer(self, key: str, options: WriteOptions) -> _FileWriter:
        self._path(key)  # refuse a bad key before any byte is written
        return _FileWriter(self, key, options)

    def commit(
        self, key: str, tmp: Path, st: os.stat_result, options: WriteOptions, crc32c: str
    ) -> ObjectInfo:
        """Move a finished temp file into place under the key's lock, checking conditions."""
        path = self._path(key)
        meta = {
            "key": key,
            "etag": _etag(st),
            "content_type": options.content_type,
            "metadata": dict(options.metadata),
            "crc32c": crc32c,
        }
        with self._locked(key):
            self._check_conditions(key, path, options)
            self._make_parents(key, path)
            if path.is_dir():
                raise FailedPreconditionError(
                    "keys exist below this one, so it cannot be an object here "
                    "(capability key_file_and_prefix)",
                    resource=key,
                )
            meta_tmp = self.tmp_dir / f"{uuid.uuid4().hex}.meta"
            meta_tmp.write_text(json.dumps(meta))
            os.replace(meta_tmp, self._meta_path(key))
            os.replace(tmp, path)
            self._fsync_dir(path.parent)
        return self._info(key, st, meta)

    def _check_conditions(self, key: str, path: Path, options: WriteOptions) -> None:
        if not (options.if_none_match or options.if_match):
            return
        try:
            current = os.stat(path, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            current = None
        exists = current is not None and stat.S_ISREG(current.st_mode)
        if options.if_none_match and exists:
            raise FailedPreconditionError("the object exists (if_none_match='*')", resource=key)
        if options.if_match is not None:
            if current is None or not exists:
                raise FailedPreconditionError("the object does not exist (if_match)", resource=key)
            if _etag(current) != options.if_match:
                raise FailedPreconditionError(
                    f"the object's etag is {_etag(current)}, not {options.if_match}",
                    resource=key,
                )

    def _make_parents(self, key: str, path: Path) -> None:
        parent = path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise FailedPreconditionError(
                "a prefix of this key is an object, so the key cannot be created "
                "(capability key_file_and_prefix)",
                resource=key,
            ) from exc
        self._path(key)  # a symlink could have been planted while the directories were made

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._locked(key):
            try:
                if not stat.S_ISREG(os.stat(path, follow_symlinks=False).st_mode):
                    return
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                return
            with suppress(FileNotFoundError):
                self._meta_path(key).unlink()
        self._prune_empty_dirs(path.parent)

    def _prune_empty_dirs(self, directory: Path) -> None:
        while directory != self.root:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty, or another writer got there first
            directory = directory.parent

    def list_page(self, options: ListOptions) -> ListPage:
        def info_for(key: str) -> ObjectInfo | None:
            try:
                return self.stat(key)
            except (NotFoundError, InvalidArgumentError):
                return None

        return page_from_sorted(self._walk(self.root, "", options), options, info_for)

    def _walk(self, directory: Path, key_prefix: str, options: ListOptions) -> Iterator[str]:
        """Yield keys under ``directory`` in lexicographic order, pruning whole subtrees."""
        bound = lower_bound(options)
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sort as keys sort: a directory "a" holds keys "a/...", which sort by "a/".
        ordered = sorted(
            ((e.name + "/" if e.is_dir(follow_symlinks=False) else e.name), e) for e in entries
        )
        for sort_name, entry in ordered:
            if entry.name == SYSTEM_DIR:
                continue  # ours at the root; a nested bucket's below it
            key = key_prefix + sort_name
            if sort_name.endswith("/"):
                if not (key.startswith(options.prefix) or options.prefix.startswith(key)):
                    continue
                if bound is not None and key < bound and not bound.startswith(key):
                    continue
                yield from self._walk(Path(entry.path), key, options)
            elif entry.is_file(follow_symlinks=False):
                yield key

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        fd, info = self._open_object(src_key)
        writer = _FileWriter(
            self,
            dst_key,
            WriteOptions(
                content_type=info.content_type,
                metadata=info.metadata,
                if_none_match=if_none_match,
            ),
        )
        running = Crc32c()
        try:
            for chunk in _FileStream(fd, 0, info.size):
                running.update(chunk)
                writer.write(chunk)
            if info.crc32c and info.crc32c != running.hexdigest():
                raise ChecksumMismatchError(
                    f"the source's bytes have CRC32C {running.hexdigest()}, "
                    f"but it was written with {info.crc32c}",
                    resource=src_key,
                )
            return writer.commit(crc32c=running.hexdigest())
        except BaseException:
            writer.abort()
            raise

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        if isinstance(exc, OSError) and exc.errno in _ERRNO_TABLE:
            return _ERRNO_TABLE[exc.errno](exc.strerror or "file system error")
        return None

    def native(self) -> object | None:
        return self.root

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own descriptors."""


class FileProvider:
    """Opens ``file:///absolute/path``."""

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, object]
    ) -> tuple[FileDriver, str]:
        """Return a driver rooted at the URL's path (created if missing) and no prefix."""
        reject_unknown_options("file", options, allowed=())
        if url.netloc not in ("", "localhost"):
            raise InvalidArgumentError(
                f"file:// URLs name a local path: file:///abs/path, not host {url.netloc!r}"
            )
        raw = unquote(url.path)
        if "\x00" in raw:
            raise InvalidArgumentError("file:// paths cannot contain NUL")
        if not raw.startswith("/"):
            raise InvalidArgumentError("file:// URLs need an absolute path: file:///abs/path")
        root = Path(os.path.normpath(raw))
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PermissionDeniedError(f"cannot create the bucket directory {root}") from exc
        return FileDriver(root.resolve()), ""

    def split_object_url(self, url: SplitResult) -> tuple[str, str]:
        """Split ``file:///dir/a/b.txt`` into the bucket root and the key.

        The root is the nearest ancestor that already holds a ``.portacloud`` directory (so
        that the object's metadata is found), else the file's own directory.
        """
        path = Path(os.path.normpath(unquote(url.path)))
        for parent in path.parents:
            if (parent / SYSTEM_DIR).is_dir():
                return parent.as_uri(), path.relative_to(parent).as_posix()
        return path.parent.as_uri(), path.name


provider = FileProvider()

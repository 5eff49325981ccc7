"""``file:///abs/path``: a directory as a bucket.

Keys map to paths under the root (``a/b.txt`` is ``ROOT/a/b.txt``), so the data stays readable
with ordinary tools. Everything portacloud keeps about an object sits with the object, never
at a "bucket root", so it is the same whichever directory the bucket was opened at
(docs/decisions/0002-file-layout.md):

- bodies being written are ``.portacloud-<uuid>.tmp`` files in the target's own directory,
  fsynced and renamed into place (atomic: same file system), so an interrupted write leaves
  nothing visible; stale ones are removed by the next writer there and by ``gc``
  (:mod:`portacloud.providers.file_tmp`, :mod:`portacloud.providers.file_gc`);
- content type, user metadata and CRC32C live in the file's ``user.portacloud.meta`` xattr,
  or a sidecar beside it where xattrs are missing (:mod:`portacloud.providers.file_meta`);
- commits hold an ``flock`` on the target's directory, which makes create-only and
  compare-and-swap atomic across threads and processes.

Opening a bucket, and every read, create and write nothing: the root and its directories
appear with the first write. No key reaches outside the root: ``..``, absolute paths and NUL
are refused by the portable layer, and every path component is ``lstat``-ed here so that a
symlink planted inside the root is refused too.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import SplitResult, unquote

from portacloud.checksums import Crc32c
from portacloud.errors import (
    ChecksumMismatchError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnavailableError,
)
from portacloud.os_errors import ERRNO_TABLE
from portacloud.providerkit.options import reject_unknown_options
from portacloud.providers import file_tmp
from portacloud.providers.file_gc import collect
from portacloud.providers.file_io import FileStream, FileWriter
from portacloud.providers.file_meta import (
    Record,
    etag_of,
    legacy_stores,
    migrate_legacy,
    read_legacy,
    read_record,
    remove_sidecar,
    write_sidecar,
)
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.listing import lower_bound, page_from_sorted
from portacloud.storage.models import ListPage, ObjectInfo

__all__ = ["FileDriver", "provider"]

SYSTEM_DIR = file_tmp.RESERVED_PREFIX
_STRIPES = 256
_SWEEP_EVERY = 60.0
"""Seconds between two sweeps of one directory for stale temp files by one driver: a
directory written in a loop is not rescanned on every write."""
_CAPABILITIES = StorageCapabilities(
    key_max_segment_bytes=255,
    key_empty_segments=False,
    key_dot_segments=False,
    key_file_and_prefix=False,
    notes=(
        "keys are paths: no empty, '.' or '..' segments, 255 bytes per segment",
        "'a/b' and 'a/b/c' cannot both be objects (a file cannot be a directory)",
        f"key segments starting with {SYSTEM_DIR!r} are reserved (temp files, sidecars)",
    ),
)


class FileDriver:
    """A directory tree as a bucket; see the module docstring for the on-disk layout."""

    provider = "file"
    capabilities = _CAPABILITIES

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_str = str(root).rstrip("/")
        self._thread_locks = [threading.Lock() for _ in range(_STRIPES)]
        self._legacy = legacy_stores(root)  # looked at, not touched, until the first write
        self._write_ready = False
        self._state_lock = threading.Lock()
        self._swept: dict[str, float] = {}

    # ---------------------------------------------------------------- paths and locks

    def _path(self, key: str) -> Path:
        """Map a key to its path, refusing anything that could leave the root."""
        return Path(self._lstat_path(key)[0])

    def _lstat_path(self, key: str) -> tuple[str, os.stat_result | None]:
        """:meth:`_path`, and the lstat of the path itself (``None`` where it does not exist)."""
        parts = key.split("/")
        if any(p in ("", ".", "..") or "\x00" in p for p in parts):
            raise InvalidArgumentError("key has an empty, '.' or '..' segment", resource=key)
        if any(file_tmp.is_reserved(p) for p in parts):
            raise InvalidArgumentError(
                f"key segments starting with {SYSTEM_DIR!r} are reserved", resource=key
            )
        path = self._root_str
        st: os.stat_result | None = None
        for part in parts:
            path = f"{path}/{part}"
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                st = None
                break
            if stat.S_ISLNK(st.st_mode):
                raise InvalidArgumentError(
                    "the path of this key goes through a symlink inside the root; "
                    "the file backend never follows symlinks",
                    resource=key,
                )
        return f"{self._root_str}/{key}", st

    @contextmanager
    def _locked(self, directory: Path) -> Iterator[None]:
        """Hold the commit lock of one directory (FileNotFoundError if it is gone)."""
        stripe = hashlib.sha256(str(directory).encode()).digest()[0] % _STRIPES
        # flock excludes other processes; the thread lock excludes threads of this one, which
        # flock on separately opened descriptors would also do, but only on Linux.
        with self._thread_locks[stripe]:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _missing_root(self) -> NotFoundError | None:
        """The error to raise when the root is not a directory, else ``None``."""
        try:
            is_dir = stat.S_ISDIR(os.stat(self.root).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_dir = False
        return None if is_dir else NotFoundError(f"no such directory: {self.root}")

    # ---------------------------------------------------------------- reading

    def _info(self, key: str, st: os.stat_result, meta: Record | None) -> ObjectInfo:
        etag = etag_of(st)
        if meta is None or meta.get("etag") != etag:
            meta = {}  # a file placed by other tools, or a record of another version
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

    def _record(self, fd: int | None, path: Path | str) -> tuple[Record | None, bool]:
        record, exact = read_record(fd, path)
        if record is None and self._legacy:
            return read_legacy(self._legacy, Path(path)), False
        return record, exact

    def _open_fd(self, key: str, path: Path) -> int:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError("no such object", resource=key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidArgumentError(
                    "the key is a symlink inside the root; the file backend never follows symlinks",
                    resource=key,
                ) from exc
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFoundError("no such object (a directory is not an object)", resource=key)
        return fd

    def _open_object(self, key: str) -> tuple[int, ObjectInfo]:
        """Open a key's data file and describe exactly the version that is open."""
        path = self._path(key)
        for _ in range(5):
            fd = self._open_fd(key, path)
            st = os.fstat(fd)
            meta, exact = self._record(fd, path)
            if exact or meta is None or meta.get("etag") == etag_of(st):
                return fd, self._info(key, st, meta)
            os.close(fd)
            # A sidecar of another version: a writer replaced it between our open and our
            # read of it, and its data rename follows at once, so try again. If the file
            # itself did not change, the sidecar is simply stale.
            if etag_of(os.stat(path, follow_symlinks=False)) == etag_of(st):
                fd = self._open_fd(key, path)
                return fd, self._info(key, os.fstat(fd), None)
        raise UnavailableError("the object kept changing while being opened", resource=key)

    def stat(self, key: str) -> ObjectInfo:
        fd, info = self._open_object(key)
        os.close(fd)
        return info

    def _listed(self, key: str) -> ObjectInfo | None:
        """What :meth:`stat` says of a listed key, from its lstat and its record by name.

        A listing opens no file (an open, an fstat and a close per key were most of a listing's
        cost). A record of another version (a writer replaced the file between the two reads,
        or a stale sidecar) sends the key to :meth:`stat`, which reads through a descriptor.
        """
        path, st = self._lstat_path(key)
        if st is None or not stat.S_ISREG(st.st_mode):
            return None
        try:
            meta, _ = self._record(None, path)
        except (FileNotFoundError, NotADirectoryError):
            return None  # deleted since the walk
        if meta is not None and meta.get("etag") != etag_of(st):
            return self.stat(key)
        return self._info(key, st, meta)

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, FileStream]:
        fd, info = self._open_object(key)
        begin = max(0, info.size + start) if start < 0 else min(start, info.size)
        stop = info.size if end is None else max(begin, min(end, info.size))
        return info, FileStream(fd, begin, stop)

    # ---------------------------------------------------------------- writing

    def _prepare_write(self) -> None:
        """Once per driver, before its first write: move pre-0002 records into place."""
        if self._write_ready:
            return
        with self._state_lock:
            if not self._write_ready:
                for base in self._legacy:
                    migrate_legacy(base)
                self._legacy = legacy_stores(self.root)  # what could not move is still read
                self._write_ready = True

    def _sweep(self, directory: Path) -> None:
        """Remove stale temp files of dead writers in ``directory``, at most once a minute."""
        now = time.monotonic()
        with self._state_lock:
            last = self._swept.get(str(directory))
            if last is not None and now - last < _SWEEP_EVERY:
                return
            self._swept[str(directory)] = now
        file_tmp.remove_stale(directory, file_tmp.STALE_AFTER)

    def new_temp(self, key: str, path: Path) -> tuple[int, Path]:
        """Create the directories of ``path`` and a temp file beside it."""
        for _ in range(5):
            self._make_parents(key, path)
            self._sweep(path.parent)
            try:
                return file_tmp.new_temp(path.parent)
            except FileNotFoundError:
                continue  # a delete pruned the directory we just made: make it again
        raise UnavailableError("the key's directory kept disappearing", resource=key)

    def open_writer(self, key: str, options: WriteOptions) -> FileWriter:
        path = self._path(key)  # refuse a bad key before anything is written
        self._prepare_write()
        return FileWriter(self, key, path, options)

    def commit(
        self,
        *,
        key: str,
        path: Path,
        tmp: Path,
        st: os.stat_result,
        options: WriteOptions,
        record: Record,
        in_xattr: bool,
    ) -> ObjectInfo:
        """Move a finished temp file into place under its directory's lock, checking conditions.

        Args:
            key: The object's key.
            path: Where the object goes.
            tmp: The finished temp file, in the same directory.
            st: The temp file's stat (its etag becomes the object's).
            options: The write's conditions.
            record: Content type, metadata and CRC32C, with the etag.
            in_xattr: Whether ``record`` is already attached to ``tmp`` as an xattr.
        """
        with self._locked(path.parent):
            self._path(key)  # a symlink could have been planted since the write began
            self._check_conditions(key, path, options)
            if path.is_dir():
                raise FailedPreconditionError(
                    "keys exist below this one, so it cannot be an object here "
                    "(capability key_file_and_prefix)",
                    resource=key,
                )
            if in_xattr:
                remove_sidecar(path)  # one left by an earlier write would be stale anyway
            else:
                write_sidecar(path, record)
            os.replace(tmp, path)
        # The rename is made durable outside the lock: other commits to this directory need
        # not wait for this fsync, and theirs are usually flushed by the same journal commit.
        self._fsync_dir(path.parent)
        return self._info(key, st, record)

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
            if etag_of(current) != options.if_match:
                raise FailedPreconditionError(
                    f"the object's etag is {etag_of(current)}, not {options.if_match}",
                    resource=key,
                )

    def _make_parents(self, key: str, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise FailedPreconditionError(
                "a prefix of this key is an object, so the key cannot be created "
                "(capability key_file_and_prefix)",
                resource=key,
            ) from exc
        self._path(key)  # a symlink could have been planted while the directories were made

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            return  # a delete emptied and pruned it since: no entry of ours left to persist
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._prepare_write()  # a pre-0002 record must not outlive its object either
        try:
            with self._locked(path.parent):
                try:
                    if not stat.S_ISREG(os.stat(path, follow_symlinks=False).st_mode):
                        return
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError):
                    return
                remove_sidecar(path)
        except (FileNotFoundError, NotADirectoryError):
            return  # no directory, so no object: nothing to delete, and nothing is created
        self.prune_empty_dirs(path.parent)

    def prune_empty_dirs(self, directory: Path) -> None:
        """Remove ``directory`` and its parents up to (not including) the root while empty."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty, or another writer got there first
            directory = directory.parent

    # ---------------------------------------------------------------- listing

    def list_page(self, options: ListOptions) -> ListPage:
        missing = self._missing_root()
        if missing is not None:
            raise missing

        def info_for(key: str) -> ObjectInfo | None:
            try:
                return self._listed(key)
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
            if file_tmp.is_reserved(entry.name):
                continue  # temp files and sidecars: ours, never keys
            key = key_prefix + sort_name
            if sort_name.endswith("/"):
                if not (key.startswith(options.prefix) or options.prefix.startswith(key)):
                    continue
                if bound is not None and key < bound and not bound.startswith(key):
                    continue
                yield from self._walk(Path(entry.path), key, options)
            elif entry.is_file(follow_symlinks=False):
                yield key

    # ---------------------------------------------------------------- the rest

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        fd, info = self._open_object(src_key)
        try:
            writer = self.open_writer(
                dst_key,
                WriteOptions(
                    content_type=info.content_type,
                    metadata=info.metadata,
                    if_none_match=if_none_match,
                ),
            )
        except BaseException:
            os.close(fd)
            raise
        running = Crc32c()
        try:
            for chunk in FileStream(fd, 0, info.size):
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

    def collect_garbage(self, *, older_than: timedelta) -> list[str]:
        """Remove temp files and sidecars that dead writers left; return them, root-relative."""
        missing = self._missing_root()
        if missing is not None:
            raise missing
        return collect(self.root, older_than)

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        if isinstance(exc, OSError) and exc.errno in ERRNO_TABLE:
            return ERRNO_TABLE[exc.errno](exc.strerror or "file system error")
        return None

    def native(self) -> object | None:
        return self.root

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own descriptors."""


def _local_path(url: SplitResult) -> str:
    """The absolute path a ``file://`` URL names, refusing a host (it would be dropped)."""
    if url.netloc not in ("", "localhost"):
        raise InvalidArgumentError(
            f"file:// URLs name a local path and take no host: write file:///abs/path "
            f"(three slashes), not a path on host {url.netloc!r}"
        )
    raw = unquote(url.path)
    if "\x00" in raw:
        raise InvalidArgumentError("file:// paths cannot contain NUL")
    if not raw.startswith("/"):
        raise InvalidArgumentError("file:// URLs need an absolute path: file:///abs/path")
    if any(file_tmp.is_reserved(part) for part in raw.split("/")):
        # A bucket opened inside one would let keys overwrite temp files and sidecars.
        raise InvalidArgumentError(
            f"{raw!r} goes through a {SYSTEM_DIR!r} directory, which holds portacloud's own "
            "state (temp files, sidecars)"
        )
    return raw


class FileProvider:
    """Opens ``file:///absolute/path``."""

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, object]
    ) -> tuple[FileDriver, str]:
        """Return a driver rooted at the URL's path, and no prefix.

        Nothing is created: a missing directory is NOT_FOUND on the first read or listing, and
        is created by the first write.
        """
        reject_unknown_options("file", options, allowed=())
        root = Path(os.path.normpath(_local_path(url)))
        return FileDriver(root.resolve()), ""

    def split_object_url(self, url: SplitResult) -> tuple[str, str]:
        """Split ``file:///dir/a/b.txt`` into the bucket ``file:///dir/a`` and the key ``b.txt``.

        Any directory would do as the root, since nothing about an object depends on it; the
        file's own directory keeps every key one segment long. The path is never normalised:
        ``a//b``, ``a/./b`` and ``a/../b`` are refused, not silently turned into another key.
        """
        raw = _local_path(url)
        parts = raw.split("/")[1:]
        if raw.endswith("/"):
            return Path(raw).as_uri(), ""  # names a directory: the caller says so
        if any(p in ("", ".", "..") for p in parts):
            raise InvalidArgumentError(
                f"{raw!r} has an empty, '.' or '..' segment; file:// object paths are used as "
                "they are, never normalised into another path"
            )
        return Path("/" + "/".join(parts[:-1])).as_uri(), parts[-1]


provider = FileProvider()

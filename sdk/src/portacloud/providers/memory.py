"""``memory://name``: a process-local bucket, for tests and pipelines that need no disk."""

from __future__ import annotations

import threading
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import SplitResult

from portacloud.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
)
from portacloud.providerkit.options import reject_unknown_options
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.listing import lower_bound, page_from_sorted
from portacloud.storage.models import ListPage, ObjectInfo

__all__ = ["MemoryDriver", "forget", "provider"]

_CAPABILITIES = StorageCapabilities(
    cross_process_atomic=False,
    bounded_memory_streaming=False,
    notes=("process-local: each process has its own memory:// buckets",),
)


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytes
    info: ObjectInfo


class _Store:
    """One named in-memory bucket, shared by every driver opened on it in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, _Object] = {}
        self.keys: list[str] = []


_STORES: dict[str, _Store] = {}
_STORES_LOCK = threading.Lock()


def forget(name: str | None = None) -> None:
    """Drop the ``memory://name`` bucket (every one when ``name`` is ``None``) and its bytes.

    Buckets live as long as the process, as a server's would; tests and long-running pipelines
    call this to give the memory back. Drivers still open on a dropped bucket see it empty.
    """
    with _STORES_LOCK:
        names = list(_STORES) if name is None else [name]
        for each in names:
            store = _STORES.pop(each, None)
            if store is not None:
                with store.lock:
                    store.objects.clear()
                    store.keys.clear()


def _store(name: str) -> _Store:
    with _STORES_LOCK:
        return _STORES.setdefault(name, _Store())


class _ChunkStream:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        if self._data:
            yield self._data

    def close(self) -> None:
        self._data = b""


class _MemoryWriter:
    def __init__(self, driver: MemoryDriver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._options = options
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        data = b"".join(self._parts)
        self._parts = []
        return self._driver.store_object(self._key, data, self._options, crc32c)

    def abort(self) -> None:
        self._parts = []


class MemoryDriver:
    """Objects in a dict guarded by a lock; conditions are checked under the same lock."""

    provider = "memory"
    capabilities = _CAPABILITIES

    def __init__(self, name: str) -> None:
        self._store = _store(name)

    def _get(self, key: str) -> _Object:
        obj = self._store.objects.get(key)
        if obj is None:
            raise NotFoundError("no such object", resource=key)
        return obj

    def stat(self, key: str) -> ObjectInfo:
        with self._store.lock:
            return self._get(key).info

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, _ChunkStream]:
        with self._store.lock:
            obj = self._get(key)
        if start < 0:
            return obj.info, _ChunkStream(obj.data[start:])
        return obj.info, _ChunkStream(obj.data[start:end])

    def open_writer(self, key: str, options: WriteOptions) -> _MemoryWriter:
        return _MemoryWriter(self, key, options)

    def store_object(
        self,
        key: str,
        data: bytes,
        options: WriteOptions,
        crc32c: str,
        *,
        content_type_and_metadata: tuple[str | None, Mapping[str, str]] | None = None,
    ) -> ObjectInfo:
        """Insert an object atomically, checking the write's conditions under the lock."""
        content_type, metadata = content_type_and_metadata or (
            options.content_type,
            options.metadata,
        )
        info = ObjectInfo(
            key=key,
            size=len(data),
            etag=uuid.uuid4().hex,
            last_modified=datetime.now(UTC),
            content_type=content_type,
            metadata=dict(metadata),
            checksums={"crc32c": crc32c},
        )
        with self._store.lock:
            current = self._store.objects.get(key)
            if options.if_none_match and current is not None:
                raise FailedPreconditionError("the object exists (if_none_match='*')", resource=key)
            if options.if_match is not None:
                if current is None:
                    raise FailedPreconditionError(
                        "the object does not exist (if_match)", resource=key
                    )
                if current.info.etag != options.if_match:
                    raise FailedPreconditionError(
                        f"the object's etag is {current.info.etag}, not {options.if_match}",
                        resource=key,
                    )
            if current is None:
                insort(self._store.keys, key)
            self._store.objects[key] = _Object(data, info)
        return info

    def delete(self, key: str) -> None:
        with self._store.lock:
            if self._store.objects.pop(key, None) is not None:
                keys = self._store.keys
                del keys[bisect_right(keys, key) - 1]

    def list_page(self, options: ListOptions) -> ListPage:
        with self._store.lock:
            keys = self._store.keys
            begin = max(options.prefix, lower_bound(options) or "")
            snapshot = keys[bisect_left(keys, begin) :]
            objects = dict(self._store.objects)

        def info_for(key: str) -> ObjectInfo | None:
            obj = objects.get(key)
            return obj.info if obj else None

        return page_from_sorted(snapshot, options, info_for)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        with self._store.lock:
            src = self._get(src_key)
        return self.store_object(
            dst_key,
            src.data,
            WriteOptions(if_none_match=if_none_match),
            src.info.crc32c or "",
            content_type_and_metadata=(src.info.content_type, src.info.metadata),
        )

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return None  # this driver raises only portacloud errors

    def native(self) -> object | None:
        return None

    def close(self) -> None:
        """Nothing to release: the store outlives the driver, as a server would."""


class MemoryProvider:
    """Opens ``memory://name[/prefix]``."""

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, object]
    ) -> tuple[MemoryDriver, str]:
        """Return the driver for the named store and the key prefix from the URL path."""
        reject_unknown_options("memory", options, allowed=())
        if not url.netloc:
            raise InvalidArgumentError("memory:// URLs need a bucket name: memory://NAME")
        return MemoryDriver(url.netloc), url.path.lstrip("/")


provider = MemoryProvider()

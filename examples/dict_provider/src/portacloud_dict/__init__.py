"""``dict://name``: objects in a Python dict, built on :mod:`portacloud.providerkit`.

The smallest complete storage provider: an options model, an error table, a driver and an
opener. It passes the storage conformance suite; docs/writing-a-provider.md explains each part.
"""

from __future__ import annotations

import threading
import uuid
from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult

from portacloud.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
)
from portacloud.providerkit import (
    ByteCount,
    BytesStream,
    ErrorRule,
    ErrorTable,
    ListOptions,
    ListPage,
    ObjectInfo,
    ProviderOptions,
    RetryPolicy,
    StorageCapabilities,
    WriteOptions,
    lower_bound,
    page_from_sorted,
    parse_options,
)

__all__ = ["DictDriver", "DictOptions", "provider"]


class DictOptions(ProviderOptions):
    """``dict://name?max_object_size=1MiB``: the options a URL or a keyword may set."""

    max_object_size: ByteCount = 1024**3


#: A dict raises KeyError for a missing object and MemoryError when it cannot grow.
ERRORS = ErrorTable(
    by_type=[
        (KeyError, ErrorRule(NotFoundError, reason="no such object")),
        (MemoryError, ErrorRule(InvalidArgumentError, reason="the object does not fit in memory")),
    ]
)

CAPABILITIES = StorageCapabilities(
    cross_process_atomic=False,
    bounded_memory_streaming=False,
    notes=("process-local, like memory://",),
)


@dataclass
class _Bucket:
    lock: threading.Lock = field(default_factory=threading.Lock)
    data: dict[str, bytes] = field(default_factory=dict)
    info: dict[str, ObjectInfo] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted: listings walk it


_BUCKETS: dict[str, _Bucket] = {}


class _Writer:
    def __init__(self, driver: DictDriver, key: str, options: WriteOptions) -> None:
        self._driver, self._key, self._options = driver, key, options
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._driver.options.max_object_size:
            raise InvalidArgumentError(
                f"object larger than max_object_size={self._driver.options.max_object_size}"
            )
        self._parts.append(data)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        data, self._parts = b"".join(self._parts), []
        return self._driver.store(self._key, data, self._options, crc32c)

    def abort(self) -> None:
        self._parts = []


class DictDriver:
    """A bucket in a dict; every write's conditions are checked under the bucket's lock."""

    provider = "dict"
    capabilities = CAPABILITIES

    def __init__(self, name: str, options: DictOptions) -> None:
        self.options = options
        self._bucket = _BUCKETS.setdefault(name, _Bucket())

    def stat(self, key: str) -> ObjectInfo:
        with self._bucket.lock:
            return self._bucket.info[key]  # KeyError -> NOT_FOUND through ERRORS

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, BytesStream]:
        with self._bucket.lock:
            info, data = self._bucket.info[key], self._bucket.data[key]
        return info, BytesStream(data[start:] if start < 0 else data[start:end])

    def open_writer(self, key: str, options: WriteOptions) -> _Writer:
        return _Writer(self, key, options)

    def store(self, key: str, data: bytes, options: WriteOptions, crc32c: str) -> ObjectInfo:
        """Insert an object atomically, if its write's conditions hold."""
        info = ObjectInfo(
            key=key,
            size=len(data),
            etag=uuid.uuid4().hex,
            last_modified=datetime.now(UTC),
            content_type=options.content_type,
            metadata=dict(options.metadata),
            checksums={"crc32c": crc32c},
        )
        with self._bucket.lock:
            current = self._bucket.info.get(key)
            if options.if_none_match and current is not None:
                raise FailedPreconditionError("the object exists", resource=key)
            if options.if_match is not None and getattr(current, "etag", None) != options.if_match:
                raise FailedPreconditionError(f"the etag is not {options.if_match}", resource=key)
            if current is None:
                insort(self._bucket.keys, key)
            self._bucket.data[key], self._bucket.info[key] = data, info
        return info

    def delete(self, key: str) -> None:
        with self._bucket.lock:
            if self._bucket.info.pop(key, None) is not None:
                del self._bucket.data[key]
                self._bucket.keys.remove(key)

    def list_page(self, options: ListOptions) -> ListPage:
        with self._bucket.lock:
            keys = self._bucket.keys
            begin = max(options.prefix, lower_bound(options) or "")
            snapshot, info = keys[bisect_left(keys, begin) :], dict(self._bucket.info)
        return page_from_sorted(snapshot, options, info.get)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        with self._bucket.lock:
            src, data = self._bucket.info[src_key], self._bucket.data[src_key]
        options = WriteOptions(
            content_type=src.content_type, metadata=src.metadata, if_none_match=if_none_match
        )
        return self.store(dst_key, data, options, src.crc32c or "")

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        rule = ERRORS.rule(exc=exc)
        return rule.build() if rule is not None else None

    def native(self) -> object | None:
        return self._bucket.data

    def close(self) -> None:
        """Nothing to release: the dict outlives the driver, as a server would."""


class DictProvider:
    """Opens ``dict://name[/prefix]``."""

    def open_bucket(
        self,
        url: SplitResult,
        options: Mapping[str, Any],
        *,
        retry: RetryPolicy | None = None,  # a dict never fails transiently: nothing to retry
    ) -> tuple[DictDriver, str]:
        """Return the driver of the named dict and the key prefix the URL's path names."""
        settings = parse_options(DictOptions, "dict", options)
        if not url.netloc:
            raise InvalidArgumentError("dict:// URLs need a bucket name: dict://NAME")
        return DictDriver(url.netloc, settings), url.path.lstrip("/")


provider = DictProvider()

"""The ``BucketDriver`` over any apache-libcloud storage driver.

Every call goes through libcloud's public storage API: ``get_object`` (HEAD),
``download_object_as_stream`` and ``download_object_range_as_stream`` for reads,
``upload_object`` (one request) and ``upload_object_via_stream`` (S3 multipart parts, Azure
blocks) for writes, ``iterate_container_objects`` for listings, ``delete_object`` and
``get_object_cdn_url`` (signed URLs). What that API cannot express is switched off in the
driver's capabilities (see :mod:`portacloud_libcloud.profiles`).

A write is spooled to a local temporary file: libcloud sends the object's metadata, and with it
the portable CRC32C, before the first byte, and the CRC32C is only known when the last byte has
been written. The spool keeps memory bounded whatever the size; ``abort`` just deletes it, so a
failed write never reaches the server. The CRC32C is stored as user metadata (``meta_data``)
and returned from ``stat`` (and from listings where the service lists metadata), never taken
from an ETag.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from bisect import bisect_left
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from portacloud.checksums import Crc32c
from portacloud.errors import (
    InvalidArgumentError,
    PortaCloudError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.providerkit import (
    CHUNK_SIZE,
    ChunkStream,
    EmptyStream,
    RetryPolicy,
    call_with_retry,
)
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.listing import lower_bound, page_from_sorted
from portacloud.storage.models import ListPage, ObjectInfo
from portacloud_libcloud.drivers import NativeDrivers
from portacloud_libcloud.errors import http_status, map_libcloud_error
from portacloud_libcloud.profiles import StorageProfile

__all__ = ["LibcloudBucketDriver"]

# libcloud ships no type information: its modules and objects are Any at this boundary.
_base: Any = importlib.import_module("libcloud.storage.base")
_types: Any = importlib.import_module("libcloud.storage.types")

_SPOOL_CHUNK = 1024 * 1024
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _etag(value: object) -> str:
    """Etags in one form whatever the driver returns: quoted, without a weak marker."""
    text = str(value or "").strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return f'"{text}"' if text else ""


def _time(value: object) -> datetime | None:
    """libcloud keeps times as the service wrote them: RFC 1123 headers or ISO 8601 listings."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
    else:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _slice(chunks: Any, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of a whole-object stream, for drivers without ranged reads."""
    pos = 0
    for chunk in chunks:
        data = bytes(chunk)
        lo, hi = max(start - pos, 0), min(end - pos, len(data))
        if lo < hi:
            yield data[lo:hi]
        pos += len(data)
        if pos >= end:
            return


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(_SPOOL_CHUNK):
            yield chunk


class _SpoolWriter:
    """One object being written: bytes go to a temporary file, the upload happens at commit."""

    def __init__(self, driver: LibcloudBucketDriver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._options = options
        self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in commit/abort
            prefix="portacloud-libcloud-", suffix=".spool", dir=driver.spool_dir, delete=False
        )
        self._size = 0
        self._finished = False

    def write(self, data: bytes) -> None:
        """Append ``data`` to the spool."""
        if self._finished:
            raise InvalidArgumentError("write after the object was committed or aborted")
        self._file.write(data)
        self._size += len(data)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        """Upload the spooled bytes with their metadata and CRC32C, then drop the spool."""
        if self._finished:
            raise InvalidArgumentError("commit after the object was committed or aborted")
        self._finished = True
        content_type = self._options.content_type or _DEFAULT_CONTENT_TYPE
        extra = {
            "content_type": content_type,
            "meta_data": self._driver.profile.codec.encode(self._options.metadata, crc32c),
        }
        try:
            self._file.close()

            def once() -> Any:
                try:
                    return self._driver.upload(self._key, self._file.name, self._size, extra)
                except PortaCloudError:
                    raise
                except Exception as exc:
                    mapped = map_libcloud_error(exc)
                    if mapped is None:
                        raise
                    raise mapped from exc

            # Bytes given whole are replayed by the portable Bucket, which owns their retries;
            # a stream is not, and the spool still holds it all, so this writer retries it.
            policy = self._driver.retry if self._options.size_hint is None else _ONCE
            obj = call_with_retry(policy, once)
        finally:
            self._discard()
        return ObjectInfo(
            key=self._key,
            size=self._size,
            etag=_etag(getattr(obj, "hash", None)),
            content_type=content_type,
            metadata=dict(self._options.metadata),
            checksums={"crc32c": crc32c},
        )

    def abort(self) -> None:
        """Drop the spool; nothing was sent, so nothing is left on the server."""
        self._finished = True
        self._discard()

    def _discard(self) -> None:
        spool = getattr(self, "_file", None)  # absent when the spool could not be created
        if spool is None:
            return
        with contextlib.suppress(OSError):
            spool.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool.name)

    def __del__(self) -> None:
        self._discard()


_ONCE = RetryPolicy(attempts=1)


class LibcloudBucketDriver(NativeDrivers):
    """One libcloud container (bucket) as a portacloud ``BucketDriver``.

    Attributes:
        provider: ``libcloud+<driver>``.
        capabilities: From the driver's profile.
        profile: How this libcloud driver is used (see :mod:`portacloud_libcloud.profiles`).
        spool_dir: Where writes are spooled (``None``: the system temporary directory).
        retry: The policy of the retries this driver owns (streamed uploads from the spool).
    """

    def __init__(
        self,
        native: Any,
        container: Any,
        *,
        provider: str,
        profile: StorageProfile,
        spool_dir: str | None = None,
        retry: RetryPolicy | None = None,
        factory: Callable[[], Any] | None = None,
    ) -> None:
        """Wrap a libcloud storage driver and one of its containers.

        Args:
            native: The libcloud ``StorageDriver`` instance (of the calling thread).
            container: The libcloud ``Container`` objects live in.
            provider: The URL scheme, ``libcloud+<driver>``.
            profile: Capabilities and behaviour for this driver (and vendor).
            spool_dir: Directory for write spools.
            retry: Retry policy of streamed uploads.
            factory: Builds the same driver for another thread (see
                :mod:`portacloud_libcloud.per_thread`); ``None`` shares ``native``.
        """
        super().__init__(native, factory)
        self.container: Any = container
        self.provider = provider
        self.profile = profile
        self.capabilities = profile.capabilities
        self.spool_dir = spool_dir
        self.retry = retry if retry is not None else RetryPolicy()
        cls = type(native)
        self._ranged = (
            getattr(cls, "download_object_range_as_stream", None)
            is not _base.StorageDriver.download_object_range_as_stream
        )

    # ----------------------------------------------------------------- helpers

    def _object(self, key: str) -> Any:
        """A libcloud ``Object`` naming ``key``, for calls that only need its name."""
        return _base.Object(
            name=key,
            size=0,
            hash=None,
            extra={},
            meta_data={},
            container=self.container,
            driver=self.native_driver,
        )

    def _info(self, key: str, obj: Any, *, listing: bool = False) -> ObjectInfo:
        extra = getattr(obj, "extra", None) or {}
        described = not listing or self.profile.listing_has_metadata
        metadata: dict[str, str] = {}
        checksums: dict[str, str] = {}
        if described:
            metadata, checksums = self.profile.codec.decode(getattr(obj, "meta_data", None))
        content_type = extra.get("content_type") if described else None
        return ObjectInfo(
            key=key,
            size=int(obj.size or 0),
            etag=_etag(getattr(obj, "hash", None) or extra.get("etag")),
            last_modified=_time(extra.get("last_modified")),
            content_type=content_type if isinstance(content_type, str) else None,
            metadata=metadata,
            checksums=checksums,
        )

    def _head(self, key: str) -> Any:
        return self.native_driver.get_object(self.container.name, key)

    # ----------------------------------------------------------------- BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        """HEAD the object (``get_object``)."""
        return self._info(key, self._head(key))

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, Any]:
        """HEAD for the description, then a (ranged) streamed GET of ``[start, end)``."""
        obj = self._head(key)
        info = self._info(key, obj)
        size = info.size
        first = max(0, size + start) if start < 0 else start
        stop = size if end is None else min(end, size)
        if first >= stop:
            return info, EmptyStream()
        native = self.native_driver
        try:
            if first == 0 and stop == size:
                chunks = native.download_object_as_stream(obj, chunk_size=CHUNK_SIZE)
                return info, self._checked(info, chunks)
            if self._ranged:
                chunks = native.download_object_range_as_stream(
                    obj, first, stop, chunk_size=CHUNK_SIZE
                )
            else:
                whole = native.download_object_as_stream(obj, chunk_size=CHUNK_SIZE)
                chunks = _slice(whole, first, stop)
        except Exception as exc:
            # The object shrank between the HEAD and the GET: the range is past its end.
            if http_status(exc) == 416:
                return info, EmptyStream()
            raise
        return info, ChunkStream(chunks)

    def _checked(self, info: ObjectInfo, chunks: Any) -> ChunkStream:
        """A whole-object body whose CRC32C, computed on the way, is checked at its end.

        libcloud's download API returns no headers, so the object described by the HEAD before
        the GET may have been replaced in between; :meth:`_check_same` tells that apart from
        damaged bytes.
        """
        crc = Crc32c()
        return ChunkStream(
            chunks, on_chunk=crc.update, on_end=lambda: self._check_same(info, crc.hexdigest())
        )

    def _check_same(self, info: ObjectInfo, crc: str) -> None:
        """After a whole read whose CRC32C differs: was the object replaced meanwhile?"""
        if info.crc32c is None or info.crc32c == crc:
            return
        try:
            current = self.stat(info.key)
        except Exception:  # noqa: BLE001 - gone or unreachable: either way not the same object
            current = None
        if current is None or current.etag != info.etag:
            raise UnavailableError(
                "the object was replaced while it was read (libcloud's download returns no "
                "headers to pin the version); reading again gets one whole version",
                resource=info.key,
                retryable=True,
            )

    def open_writer(self, key: str, options: WriteOptions) -> _SpoolWriter:
        """Begin spooling a write."""
        return _SpoolWriter(self, key, options)

    def upload(self, key: str, path: str, size: int, extra: dict[str, Any]) -> Any:
        """Upload the spool at ``path``; used by the writer's commit.

        Empty objects go through ``upload_object_via_stream``: ``upload_object`` sends an empty
        file with chunked encoding, which S3 and Azure refuse. Large objects go through it too
        where the driver streams in bounded parts; the rest is one ``upload_object`` request.
        """
        native = self.native_driver
        if size == 0:
            return native.upload_object_via_stream(iter([b""]), self.container, key, extra=extra)
        if self.profile.stream_uploads and size > self.profile.single_put_max:
            return native.upload_object_via_stream(
                _file_chunks(path), self.container, key, extra=extra
            )
        return native.upload_object(path, self.container, key, extra=extra)

    def delete(self, key: str) -> None:
        """``delete_object``; a missing object is not an error."""
        try:
            done = self.native_driver.delete_object(self._object(key))
        except _types.ObjectDoesNotExistError:
            return
        if done is False:
            raise UnavailableError(
                "the server did not confirm the delete", resource=key, retryable=True
            )

    def list_page(self, options: ListOptions) -> ListPage:
        """List the whole prefix, sort it in UTF-8 byte order, and cut out one page.

        libcloud's listing has no marker and no delimiter, and some servers (SeaweedFS) list in
        file-tree order, so each page starts from a fresh, sorted listing of the prefix: keys
        added or deleted between pages are seen or not exactly as on a native listing.
        """
        prefix = options.prefix
        found: dict[str, Any] = {}
        for obj in self.native_driver.iterate_container_objects(
            self.container, prefix=prefix or None
        ):
            name = obj.name
            if isinstance(name, str) and name.startswith(prefix):
                found[name] = obj
        # Code-point order of str is the UTF-8 byte order of the encoded keys.
        keys = sorted(found)
        begin = max(prefix, lower_bound(options) or "")
        keys = keys[bisect_left(keys, begin) :]
        return page_from_sorted(
            keys, options, lambda key: self._info(key, found[key], listing=True)
        )

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        """libcloud's storage API has no copy (capability ``server_side_copy`` is false)."""
        raise UnsupportedError(
            "libcloud's storage API has no copy (capability server_side_copy is false)",
            provider=self.provider,
            operation="copy",
            resource=src_key,
        )

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """``get_object_cdn_url``: an S3 presigned URL or an Azure SAS URL.

        libcloud takes the lifetime in (fractional) hours and truncates it to whole seconds;
        the half second added here makes that truncation round to the nearest second.
        """
        hours = (expires.total_seconds() + 0.5) / 3600
        url: str = self.native_driver.get_object_cdn_url(
            self._object(key), ex_expiry=hours, ex_method=method
        )
        return url

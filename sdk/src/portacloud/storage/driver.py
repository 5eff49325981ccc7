"""The small Protocols a storage backend implements.

Drivers get keys that the portable :class:`~portacloud.storage.bucket.Bucket` has already
validated and joined with the bucket prefix, options already checked against the driver's
capabilities, and they never re-validate them. They raise either portacloud errors or their
native exceptions; :meth:`BucketDriver.map_error` turns the latter into the former, table-first,
in one module per provider.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from portacloud.errors import PortaCloudError
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.models import ListPage, ObjectInfo

__all__ = [
    "BucketDriver",
    "DriverWriter",
    "ListOptions",
    "PendingUpload",
    "ReadStream",
    "StoredVersion",
    "SupportsCopyFrom",
    "SupportsDeleteMany",
    "SupportsGarbageCollection",
    "SupportsLocation",
    "SupportsPinnedRead",
    "SupportsSignedURL",
    "SupportsUploads",
    "SupportsVersions",
    "WriteOptions",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteOptions:
    """Options of one write, validated by the portable layer.

    Attributes:
        content_type: MIME type to record, or ``None``.
        metadata: User metadata, keys lower-cased and checked.
        if_none_match: Create-only: fail with FAILED_PRECONDITION if the key exists.
        if_match: Compare-and-swap: fail with FAILED_PRECONDITION unless the etag is this.
        size_hint: Total size when the caller knows it up front (bytes input), else ``None``.
    """

    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    if_none_match: bool = False
    if_match: str | None = None
    size_hint: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOptions:
    """Options of one listing page.

    Attributes:
        prefix: Only keys starting with this (already joined with the bucket prefix).
        delimiter: Group keys by the first delimiter after the prefix, or ``None``.
        start_after: Only keys strictly after this one.
        page_size: Upper bound on entries in the page.
        token: The ``next_token`` of the previous page, or ``None`` for the first.
    """

    prefix: str = ""
    delimiter: str | None = None
    start_after: str | None = None
    page_size: int = 1000
    token: str | None = None


class ReadStream(Protocol):
    """An open read: iterate for chunks, close to release the connection."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class DriverWriter(Protocol):
    """A write in progress. Nothing is visible until :meth:`commit` returns."""

    def write(self, data: bytes) -> None:
        """Append ``data``; the driver decides how much to buffer before sending a part."""

    def commit(self, *, crc32c: str) -> ObjectInfo:
        """Make the object visible atomically, recording ``crc32c``, and describe it."""

    def abort(self) -> None:
        """Discard everything written; must be safe to call more than once."""


class BucketDriver(Protocol):
    """The operations every storage backend provides.

    Attributes:
        provider: Short provider name used in errors and reports (``"file"``, ``"s3"``).
        capabilities: What this backend can do.
    """

    provider: str
    capabilities: StorageCapabilities

    def stat(self, key: str) -> ObjectInfo:
        """Describe ``key``; raise NOT_FOUND if it does not exist."""

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, ReadStream]:
        """Open ``key`` for reading bytes ``[start, end)``.

        A negative ``start`` (with ``end=None``) asks for the last ``-start`` bytes. A start at
        or beyond the end gives no bytes, not an error. The returned info describes the whole
        object.
        """

    def open_writer(self, key: str, options: WriteOptions) -> DriverWriter:
        """Begin writing ``key``."""

    def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is not an error."""

    def list_page(self, options: ListOptions) -> ListPage:
        """Return one page of keys in lexicographic (UTF-8 byte) order."""

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        """Copy server-side, keeping content type, metadata and the portable checksum."""

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a native exception, or return ``None`` if it is not this driver's."""

    def native(self) -> object | None:
        """The vendor client behind this driver, for ``Bucket.as_native``."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class SupportsSignedURL(Protocol):
    """Drivers that can sign URLs."""

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """Return a URL that allows ``method`` on ``key`` until ``expires`` from now."""


@runtime_checkable
class SupportsPinnedRead(Protocol):
    """Drivers that can read on in one version of an object, for reopening a read mid-way."""

    def read_version(self, key: str, *, start: int, etag: str) -> ReadStream:
        """Bytes from ``start`` to the end of the version ``etag`` names.

        Raises FAILED_PRECONDITION if that version is gone (replaced or deleted).
        """


@runtime_checkable
class SupportsCopyFrom(Protocol):
    """Drivers that can copy server-side from another bucket they reach (same store, same
    credentials), for copies and migrations across buckets.

    Used only where ``capabilities.server_side_copy`` is true.
    """

    def can_copy_from(self, source: BucketDriver) -> bool:
        """Whether :meth:`copy_from` can reach ``source`` server-side (same provider, endpoint
        and credentials); a cheap check that sends no request."""

    def copy_from(
        self, source: BucketDriver, src_key: str, dst_key: str, *, if_none_match: bool
    ) -> ObjectInfo | None:
        """Copy ``src_key`` of ``source`` to ``dst_key`` here, server-side, keeping content
        type, metadata and the portable checksum, as :meth:`BucketDriver.copy` does.

        Returns:
            The new object, or ``None`` when ``source`` is not reachable server-side (another
            provider, endpoint or set of credentials): then nothing was sent.
        """


@runtime_checkable
class SupportsDeleteMany(Protocol):
    """Drivers with a batch delete."""

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete every key; missing keys are not errors."""


@runtime_checkable
class SupportsLocation(Protocol):
    """Drivers that ask the provider where the bucket lives, for region policies.

    Used only where ``capabilities.location`` is true.
    """

    def bucket_region(self) -> str:
        """The bucket's region as the provider names it, lower-case (``eu-west-1``)."""


@runtime_checkable
class SupportsGarbageCollection(Protocol):
    """Drivers that can leave garbage behind (temp files of killed writers) and remove it."""

    def collect_garbage(self, *, older_than: timedelta) -> list[str]:
        """Remove what unfinished writes left that is older than ``older_than``.

        Returns:
            What was removed, as names in the backend's own terms (paths relative to the root
            for ``file://``), sorted.
        """


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredVersion:
    """One stored version of a key, as a versioned backend lists it.

    Attributes:
        key: The full key (joined with the bucket prefix).
        version: The backend's version name (S3 version ID, GCS generation, Azure version ID),
            or ``None`` where the backend keeps one version per key.
        size: Length in bytes; ``None`` for a delete marker.
        crc32c: The portable CRC32C (8 hex digits) where the listing gives it, else ``None``.
        delete_marker: An S3 delete marker (no bytes, but it is under the prefix all the same).
    """

    key: str
    version: str | None = None
    size: int | None = None
    crc32c: str | None = None
    delete_marker: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingUpload:
    """An unfinished multipart upload: parts the backend stores (and bills) but shows no one.

    Attributes:
        key: The full key it would create.
        upload_id: The backend's upload ID.
        initiated: When it began, where known.
    """

    key: str
    upload_id: str
    initiated: datetime | None = None


@runtime_checkable
class SupportsVersions(Protocol):
    """Drivers that list every stored version of a key, for ``Bucket.erase``.

    Used only where ``capabilities.versions`` is true.
    """

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        """Every version, noncurrent versions and delete markers included, of keys that
        start with ``prefix`` (in any order)."""

    def delete_versions(self, versions: Sequence[StoredVersion]) -> None:
        """Delete each version for good (at most 1,000 at a time); gone ones are no error."""


@runtime_checkable
class SupportsUploads(Protocol):
    """Drivers that list and abort unfinished uploads, for ``Bucket.erase``.

    Used only where ``capabilities.list_uploads`` is true.
    """

    def list_uploads(self, prefix: str) -> list[PendingUpload]:
        """Every unfinished upload of a key that starts with ``prefix``."""

    def abort_upload(self, upload: PendingUpload) -> None:
        """Abort ``upload`` and free its parts; an upload already gone is no error."""

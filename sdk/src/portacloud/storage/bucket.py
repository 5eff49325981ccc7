"""The portable :class:`Bucket`: what users hold, whatever the backend."""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, cast, overload
from urllib.parse import urlsplit, urlunsplit

from portacloud.errors import InvalidArgumentError, NotFoundError, UnsupportedError
from portacloud.handle import DriverHandle
from portacloud.residency import STORAGE_ACCESS, Access, RegionCache, RegionPolicy
from portacloud.retry import RetryPolicy, call_conditional_with_retry, call_with_retry
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import (
    BucketDriver,
    ListOptions,
    ReadStream,
    SupportsDeleteMany,
    SupportsGarbageCollection,
    SupportsLocation,
    SupportsPinnedRead,
    SupportsSignedURL,
    WriteOptions,
)
from portacloud.storage.hashed import HashedBytes, InMemory, hashed, in_memory, unread_hashing
from portacloud.storage.keys import check_key
from portacloud.storage.listing import ListingGuard, PageEntries, checked_list_options
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud.storage.ranges import checked_read, parse_range, sized_range
from portacloud.storage.streams import Guard, ObjectReader, ObjectWriter, chunks_of
from portacloud.storage.write_checks import checked_signing, checked_write_options

if TYPE_CHECKING:
    from portacloud.fsspec.filesystem import PortaCloudFileSystem
    from portacloud.storage.erase import EraseResult

__all__ = ["Bucket", "PutData"]

_T = TypeVar("_T")

#: What :meth:`Bucket.put` accepts: bytes, a binary file object, or an iterable of bytes.
PutData = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]

_READ_BUFFER = 1024 * 1024


class Bucket(DriverHandle[BucketDriver]):
    """A bucket (or a prefix inside one) on any backend.

    Open one with :func:`portacloud.open_bucket`. Every method validates its arguments before
    any request, raises only :class:`~portacloud.errors.PortaCloudError` subclasses for
    failures, and retries transient failures of replayable calls under one
    :class:`~portacloud.retry.RetryPolicy`.
    """

    def __init__(
        self,
        driver: BucketDriver,
        *,
        url: str,
        prefix: str = "",
        retry: RetryPolicy | None = None,
        options: Mapping[str, Any] | None = None,
        residency: RegionPolicy | None = None,
    ) -> None:
        super().__init__(driver, url=url, options=options)
        self._prefix = prefix
        self._retry = retry or RetryPolicy()
        self._regions = RegionCache(residency)
        # The URL the driver was opened from: a child shares its parent's driver, and its
        # own URL would make some providers (file://) root a fresh driver elsewhere.
        self._driver_url = url

    def _reopen(self) -> BucketDriver:
        from portacloud.registry import default_registry

        opened = default_registry().bucket_driver(
            self._driver_url, retry=self._retry, options=self._options
        )
        return opened[0]

    # ----------------------------------------------------------------- properties

    @property
    def prefix(self) -> str:
        """The key prefix every call is relative to."""
        return self._prefix

    @property
    def capabilities(self) -> StorageCapabilities:
        """What the backend can do."""
        return self._driver.capabilities

    def region(self) -> str | None:
        """The region the provider reports for this bucket (``eu-west-1``, ``europe-west4``),
        asked for once per handle; ``None`` where it cannot tell (capability ``location``)."""
        driver = self._driver
        if not self.capabilities.location or not isinstance(driver, SupportsLocation):
            return None
        located: SupportsLocation = driver
        return self._regions.region(lambda: self._call("location", None, located.bucket_region))

    @property
    def fs(self) -> PortaCloudFileSystem:
        """A new fsspec filesystem over this bucket (needs ``portacloud[fsspec]``)."""
        import fsspec  # portacloud.fsspec registers the protocol through fsspec's entry points

        fs: PortaCloudFileSystem = fsspec.filesystem("portacloud", bucket=self)
        return fs

    def child(self, prefix: str) -> Bucket:
        """Return a bucket whose keys are relative to ``prefix`` inside this one.

        Args:
            prefix: A non-empty key prefix, usually ending with ``/``.
        """
        if not isinstance(prefix, str) or not prefix:
            raise InvalidArgumentError("child() needs a non-empty str prefix")
        # A prefix is valid when a key directly under it can be: drop one trailing '/'.
        stem = prefix[:-1] if prefix.endswith("/") else prefix
        check_key(stem or prefix, self.capabilities, full_key=self._prefix + (stem or prefix))
        parts = urlsplit(self._url)
        path = parts.path.rstrip("/") + "/" + prefix.lstrip("/")
        child = Bucket(
            self._driver,
            url=urlunsplit(parts._replace(path=path)),
            prefix=self._prefix + prefix,
            retry=self._retry,
            options=self._options,
        )
        child._driver_url = self._driver_url
        child._regions = self._regions  # one bucket, one region, asked for once
        return child

    # ----------------------------------------------------------------- plumbing

    def _call(
        self, operation: str, resource: str | None, fn: Callable[[], _T], *, retry: bool = True
    ) -> _T:
        access = STORAGE_ACCESS.get(operation)
        if access is not None:
            self.check_region(access, resource, operation=operation)

        def once() -> _T:
            return self._guarded(operation, resource, fn)

        return call_with_retry(self._retry, once) if retry else once()

    def _guard_for(self, operation: str, key: str) -> Guard:
        return partial(self._guarded, operation, key)

    def _full(self, key: object) -> str:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"key must be a str, not {type(key).__name__}")
        full = self._prefix + key
        check_key(key, self.capabilities, full_key=full)
        return full

    def _relative(self, info: ObjectInfo) -> ObjectInfo:
        if not self._prefix:
            return info
        return info.model_copy(update={"key": info.key[len(self._prefix) :]})

    def _write_options(self, operation: str, **given: Any) -> WriteOptions:
        self.check_region("write", None, operation=operation)
        return checked_write_options(
            self.capabilities, operation, unsupported=self._unsupported, **given
        )

    def check_region(
        self, access: Access = "write", key: str | None = None, *, operation: str = "check"
    ) -> None:
        """Raise PERMISSION_DENIED now if the region policy the bucket was opened under
        (``open_bucket(url, profile=...)``) refuses ``access``; a no-op without one."""
        policy = self._regions.policy
        if policy is None or not policy.applies_to(access):
            return
        where = self._url if key is None else self._url.split("?", 1)[0].rstrip("/") + "/" + key
        policy.check(
            access=access,
            resource=where,
            region=self.region(),
            provider=self.provider,
            operation=operation,
        )

    # ----------------------------------------------------------------- writes

    def put(
        self,
        key: str,
        data: PutData | HashedBytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        """Write an object, replacing any object at ``key`` unless a condition says otherwise.

        The object appears atomically when the whole body has been written; a failure at any
        point (a raising iterator included) leaves no object behind.

        Args:
            key: The object's key.
            data: ``bytes``-like, a binary file object (read in 8 MiB chunks), or an iterable
                of ``bytes`` chunks. Streams are written with bounded memory.
            content_type: MIME type to record.
            metadata: User metadata; names are case-insensitive and stored lower-case.
            if_none_match: ``"*"`` makes the write create-only (FAILED_PRECONDITION if the key
                exists).
            if_match: An etag: the write succeeds only if the object still has it
                (FAILED_PRECONDITION otherwise, NOT_FOUND if it is gone).

        Returns:
            What was stored, with its new etag and CRC32C.
        """
        full, body, options = self._put_plan(
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            if_none_match=if_none_match,
            if_match=if_match,
        )
        if body is not None:
            return self._put_bytes(key, full, body, options)
        chunks = chunks_of(cast("IO[bytes] | Iterable[bytes]", data))
        with self._open_writer(key, full, options, body=data) as out:
            for chunk in chunks:
                out.write(chunk)
        assert out.info is not None  # close() either set it or raised
        return out.info

    def _put_plan(
        self, key: str, data: object, **given: Any
    ) -> tuple[str, InMemory | None, WriteOptions]:
        """The full key, the body when ``data`` is in memory, and the checked options."""
        full = self._full(key)
        if isinstance(data, str):  # callers without type checking pass str; say so clearly
            raise InvalidArgumentError("data must be bytes, not str; encode it first")
        body = in_memory(data)
        size_hint = None if body is None else len(body)
        return full, body, self._write_options("put", size_hint=size_hint, **given)

    def _put_bytes(self, key: str, full: str, body: InMemory, options: WriteOptions) -> ObjectInfo:
        """Write bytes in memory: one request, retried as a whole."""
        sent = hashed(body)

        def write_once() -> ObjectInfo:
            writer = self._driver.open_writer(full, options)
            try:
                writer.write(sent.data)
                return writer.commit(crc32c=sent.crc32c)
            except BaseException:
                writer.abort()
                raise

        if options.if_none_match or options.if_match is not None:
            return self._relative(self._conditional_put(key, write_once))
        return self._relative(self._call("put", key, write_once))

    def _conditional_put(self, key: str, write_once: Callable[[], ObjectInfo]) -> ObjectInfo:
        # A retried conditional write must not report its own success as a lost race.
        return call_conditional_with_retry(
            self._retry, lambda: self._guarded("put", key, write_once)
        )

    def _open_writer(
        self, key: str, full: str, options: WriteOptions, *, body: object = None
    ) -> ObjectWriter:
        writer = self._call("put", key, lambda: self._driver.open_writer(full, options))
        guard, hashed_by = self._guard_for("put", key), unread_hashing(body)
        return ObjectWriter(writer, guard=guard, relative=self._relative, hashed_by=hashed_by)

    # ----------------------------------------------------------------- reads

    def head(self, key: str) -> ObjectInfo:
        """Describe an object without reading it; NOT_FOUND if it does not exist."""
        full = self._full(key)
        return self._relative(self._call("head", key, lambda: self._driver.stat(full)))

    def exists(self, key: str) -> bool:
        """Return whether an object exists at ``key``."""
        try:
            self.head(key)
        except NotFoundError:
            return False
        return True

    def get(self, key: str, *, range: tuple[int | None, int | None] | None = None) -> bytes:
        """Read an object, or a byte range of it, into memory.

        Args:
            key: The object's key.
            range: ``(start, end)`` with Python slice rules: ``end`` is exclusive, ``None``
                means "to the end", negative values count from the end, so ``(-100, None)`` is
                the last 100 bytes. A range past the end gives ``b""``.

        Returns:
            The bytes. A whole-object read is checked against the object's CRC32C, and a
            mismatch raises :class:`~portacloud.errors.ChecksumMismatchError` rather than
            returning bad data.
        """
        full = self._full(key)
        start, end, needs_size = parse_range(range)
        whole = range is None or (start == 0 and end is None)

        def read_once() -> bytes:
            s, e = start, end
            if needs_size:
                bounds = sized_range(start, end, self._driver.stat(full).size)
                if bounds is None:
                    return b""
                s, e = bounds
            info, stream = self._driver.read(full, start=s, end=e)
            try:
                data = b"".join(stream)
            finally:
                stream.close()
            return checked_read(data, info, s, e, whole=whole, provider=self.provider)

        return self._call("get", key, read_once)

    @overload
    def open(self, key: str, mode: Literal["rb"] = "rb") -> io.BufferedReader: ...

    @overload
    def open(
        self,
        key: str,
        mode: Literal["wb"],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> ObjectWriter: ...

    def open(
        self,
        key: str,
        mode: Literal["rb", "wb"] = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> io.BufferedReader | ObjectWriter:
        """Open an object as a streaming file object with bounded memory.

        ``"rb"`` gives a seekable buffered reader that verifies the CRC32C when read from start
        to end. ``"wb"`` gives a writer; the object appears only when it is closed cleanly
        (use it in a ``with`` block: an exception inside discards the write).
        """
        full = self._full(key)
        if mode == "wb":
            options = self._write_options(
                "open",
                content_type=content_type,
                metadata=metadata,
                if_none_match=if_none_match,
                if_match=if_match,
                size_hint=None,
            )
            return self._open_writer(key, full, options)
        if mode != "rb":
            raise InvalidArgumentError(f"mode must be 'rb' or 'wb', not {mode!r}")
        if any(v is not None for v in (content_type, metadata, if_none_match, if_match)):
            raise InvalidArgumentError("write options are only valid with mode 'wb'")

        def open_at(offset: int) -> tuple[ObjectInfo, ReadStream]:
            return self._driver.read(full, start=offset, end=None)

        info, stream = self._call("get", key, lambda: open_at(0))

        def reopen(offset: int) -> ReadStream:
            # Not retried here (the reader retries its reopens); pinned to the version opened.
            if isinstance(self._driver, SupportsPinnedRead):
                return self._driver.read_version(full, start=offset, etag=info.etag)
            return open_at(offset)[1]

        raw = ObjectReader(
            self._relative(info),
            stream,
            reopen=reopen,
            guard=self._guard_for("get", key),
            provider=self.provider,
            retry=self._retry,
        )
        return io.BufferedReader(raw, buffer_size=_READ_BUFFER)

    # ----------------------------------------------------------------- delete

    def delete(self, key: str) -> None:
        """Delete an object. Deleting a key that does not exist is not an error."""
        full = self._full(key)
        self._call("delete", key, lambda: self._driver.delete(full))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete several objects (in batches where the backend has a batch delete).

        Missing keys are not errors.
        """
        if isinstance(keys, str):
            raise InvalidArgumentError("delete_many takes an iterable of keys, not one str")
        fulls = [self._full(k) for k in keys]
        driver = self._driver
        if isinstance(driver, SupportsDeleteMany):
            batch_driver: SupportsDeleteMany = driver
            for i in range(0, len(fulls), 1000):
                batch: Sequence[str] = fulls[i : i + 1000]
                self._call("delete_many", None, partial(batch_driver.delete_many, batch))
            return
        for full in fulls:
            self._call("delete", full, partial(driver.delete, full))

    def erase(
        self,
        prefix: str,
        *,
        dry_run: bool = False,
        whole_bucket: bool = False,
        receipt: str | os.PathLike[str] | None = None,
    ) -> EraseResult:
        """Delete everything stored under ``prefix``, verify that nothing is left, keep a receipt.

        Every stored version (``capabilities.versions``) and unfinished upload
        (``capabilities.list_uploads``) goes, then listings must find nothing under the prefix
        (docs/residency-and-erasure.md). ``"user-42/"`` never touches ``"user-420/"``.

        Args:
            prefix: A non-empty key prefix, usually ending with ``/``.
            dry_run: Only list what would go (``EraseResult.items``); delete nothing.
            whole_bucket: Allow the empty prefix: everything this handle reaches.
            receipt: Where to write the JSON-lines receipt; default under
                ``$PORTACLOUD_HOME/erase/``.
        """
        from portacloud.storage.erase import Eraser

        return Eraser(self, self._driver, self._call).run(
            prefix, dry_run=dry_run, whole_bucket=whole_bucket, receipt=receipt
        )

    # ----------------------------------------------------------------- list

    def list(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        start_after: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[ObjectInfo | PrefixInfo]:
        """List objects in key order (UTF-8 byte order), fetching pages lazily.

        Args:
            prefix: Only keys that start with this.
            delimiter: Group keys that share the text up to the first delimiter after the
                prefix into one :class:`PrefixInfo`, like a directory listing.
            start_after: Only keys strictly after this one.
            page_size: Entries per request to the backend (1 to 1000).

        Yields:
            :class:`ObjectInfo` for objects and, with a delimiter, :class:`PrefixInfo`.
        """
        options = self._list_options(prefix, delimiter, start_after, page_size)
        return self._iter_list(options, prefix)

    def _list_options(
        self, prefix: str, delimiter: str | None, start_after: str | None, page_size: int | None
    ) -> ListOptions:
        """The checked options of a listing's first page (see :meth:`list`)."""
        refuse = None
        if not self.capabilities.list_with_delimiter:
            refuse = partial(self._unsupported, "list", "delimiter", "list_with_delimiter")
        return checked_list_options(
            self._prefix,
            prefix,
            delimiter=delimiter,
            start_after=start_after,
            page_size=page_size,
            refuse_delimiter=refuse,
        )

    def _page_entries(self) -> PageEntries:
        """What turns each page of one listing into its entries, checked."""
        guard = ListingGuard(
            self.provider, ordered=self.capabilities.list_sorted, where=self._driver_url
        )
        return PageEntries(guard, cut=len(self._prefix), relative=self._relative)

    def _list_page(self, options: ListOptions, prefix: str) -> ListPage:
        """One page of a listing, retried under the policy."""
        return self._call("list", prefix, partial(self._driver.list_page, options))

    def _iter_list(self, options: ListOptions, prefix: str) -> Iterator[ObjectInfo | PrefixInfo]:
        token: str | None = None
        entries = self._page_entries()
        while True:
            page = self._list_page(replace(options, token=token), prefix)
            yield from entries(page, token)
            if not page.next_token:
                return
            token = page.next_token

    # ----------------------------------------------------------------- copy, sign, native

    def copy(self, src_key: str, dst_key: str, *, if_none_match: str | None = None) -> ObjectInfo:
        """Copy an object inside this bucket, server-side where the backend can.

        Content type, metadata and the CRC32C travel with it. NOT_FOUND if ``src_key`` is
        missing; with ``if_none_match="*"``, FAILED_PRECONDITION if ``dst_key`` exists.
        """
        src, dst = self._full(src_key), self._full(dst_key)
        if if_none_match is not None and if_none_match != "*":
            raise InvalidArgumentError(f"if_none_match must be '*', not {if_none_match!r}")
        if not self.capabilities.server_side_copy:
            raise self._unsupported("copy", "copy", "server_side_copy")
        if if_none_match and not self.capabilities.copy_with_if_none_match:
            raise self._unsupported("copy", "if_none_match", "copy_with_if_none_match")
        return self._relative(
            self._call(
                "copy",
                src_key,
                lambda: self._driver.copy(src, dst, if_none_match=if_none_match == "*"),
            )
        )

    def signed_url(
        self,
        key: str,
        *,
        method: Literal["GET", "PUT"] = "GET",
        expires: timedelta | int = 3600,
        content_type: str | None = None,
    ) -> str:
        """Return a URL that lets anyone holding it GET or PUT ``key`` until it expires.

        Args:
            key: The object's key.
            method: ``"GET"`` or ``"PUT"``.
            expires: Lifetime, as a timedelta or seconds (1 s to 7 days).
            content_type: For PUT, the Content-Type the uploader must send.
        """
        full = self._full(key)
        lifetime = checked_signing(method, expires)
        self.check_region("read" if method == "GET" else "write", key, operation="signed_url")
        capability = "presign_read" if method == "GET" else "presign_write"
        driver = self._driver
        if not getattr(self.capabilities, capability) or not isinstance(driver, SupportsSignedURL):
            raise self._unsupported("signed_url", f"signed {method} URLs", capability)
        signer: SupportsSignedURL = driver
        return self._call(
            "signed_url",
            key,
            lambda: signer.signed_url(
                full, method=method, expires=lifetime, content_type=content_type
            ),
        )

    def collect_garbage(self, *, older_than: timedelta | int = 3600) -> builtins.list[str]:
        """Remove what interrupted writes left behind (temp files of a killed upload).

        Nothing visible changes: no object is touched, only the backend's own leftovers that
        are older than ``older_than``, so that writes still in progress are safe.

        Args:
            older_than: Minimum age, as a timedelta or seconds (default one hour).

        Returns:
            What was removed, in the backend's own terms (paths for ``file://``), sorted.
        """
        age = older_than if isinstance(older_than, timedelta) else timedelta(seconds=older_than)
        if age < timedelta(0):
            raise InvalidArgumentError("older_than cannot be negative")
        driver = self._driver
        if not isinstance(driver, SupportsGarbageCollection):
            raise UnsupportedError(
                "collect_garbage: this backend keeps no leftovers it can find",
                provider=self.provider,
                operation="collect_garbage",
            )
        gc: SupportsGarbageCollection = driver
        return self._call("collect_garbage", None, lambda: gc.collect_garbage(older_than=age))

    def as_native(self, native_type: type[_T]) -> _T | None:
        """Return the vendor client behind this bucket if it is a ``native_type``, else None.

        Code that uses it is no longer portable.
        """
        native = self._driver.native()
        return native if isinstance(native, native_type) else None

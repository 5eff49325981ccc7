"""``az://container/prefix``: Azure Blob Storage (or Azurite) as a portacloud bucket.

Credentials never come from the URL. With the ``account`` option the driver talks to
``https://ACCOUNT.blob.core.windows.net`` (or ``endpoint_url``) with ``DefaultAzureCredential``
(environment, workload identity, managed identity, Azure CLI...). Without it the account, the
endpoint and the shared key come from the ``AZURE_STORAGE_CONNECTION_STRING`` environment
variable. The connection string and the key are secrets: they are read from the environment
only, handed to the SDK, and never kept in an attribute, a repr or an error message.

How the portable semantics map onto Blob Storage:

- Writes are block blobs. A body that fits in one block is one Put Blob. A larger one is staged
  block by block (``max_concurrency`` uploads in flight, so at most ``(max_concurrency + 1) x
  block_size`` bytes are buffered) and made visible by one Put Block List, which also sets the
  content type and the metadata, the CRC32C included: it is known by then because every byte
  has been seen. Staged blocks are invisible until that commit and the service
  garbage-collects uncommitted blocks (after a week, or at the next commit of the blob), so an
  abort only has to stop: nothing is ever left visible.
- Create-only writes and copies send ``If-None-Match: *``; compare-and-swap sends ``If-Match``,
  on the Put Blob or the Put Block List, so both are atomic on the service.
- The portable CRC32C lives in metadata (see :mod:`portacloud_azure.metadata` for why names are
  escaped: Azure takes only C# identifiers) and is stripped from ``ObjectInfo.metadata``.
- Listing uses ``prefix``/``delimiter`` and the service's continuation marker as the page token.
  Blob Storage has no "start after", so keys up to ``start_after`` are skipped here.
- Copies are server-side Copy Blob operations within the account, awaited until they finish.
- Retries: the SDK's own retry policy is off (``retry_total=0``); the portable ``Bucket`` owns
  replayable calls and this driver retries only the blocks (and the commit) of a streamed write,
  which it holds in memory. Reads are one plain Get Blob streamed as it arrives, not the SDK's
  downloader, which would re-send a request whose body broke off up to three times on its own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import SplitResult, unquote, urlsplit

from portacloud.errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    PortaCloudError,
    UnauthenticatedError,
    UnavailableError,
    UnknownError,
)
from portacloud.logging_redaction import install_redaction
from portacloud.providers.options import reject_unknown_options
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud_azure.errors import error_from_response, map_azure_error
from portacloud_azure.metadata import decode_metadata, encode_metadata

__all__ = ["AzureBlobDriver", "AzureProvider", "provider"]

_T = TypeVar("_T")

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
_OPTIONS = ("account", "endpoint_url", "api_version", "block_size", "max_concurrency")
_MiB = 1024 * 1024
_DEFAULT_BLOCK_SIZE = 8 * _MiB
_MIN_BLOCK_SIZE = 64 * 1024
_MAX_BLOCK_SIZE = 4000 * _MiB  # the service's limit for one Put Block
_DEFAULT_CONCURRENCY = 4
_MAX_CONCURRENCY = 64
_MAX_BLOCKS = 50_000  # committed blocks per blob
_DEFAULT_CONTENT_TYPE = "application/octet-stream"  # what the service records without one
_BATCH_DELETE_MAX = 256  # sub-requests per Blob Batch
#: Connections kept open for reuse. requests keeps 10 by default: a caller with more threads
#: than that (a migration runs 16 objects at a time, each large one several blocks) would
#: open, and drop, a new connection for most requests.
_POOL_CONNECTIONS = 64
_COPY_WAIT_MAX = timedelta(hours=1)
_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER_NAME = re.compile(r"^(?:\$root|\$web|\$logs|[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9])$")

_COMMON_NOTES = (
    "metadata names are escaped into C# identifiers ('-' as '_h', '.' as '_d', '_' as '__'); "
    "the CRC32C is metadata 'portacloud_hcrc32c'",
    "listing order is the service's UTF-16 code-unit order, which differs from UTF-8 byte order "
    "only between characters above U+FFFF and characters U+E000..U+FFFF",
    "start_after is applied client-side: the keys before it are still listed and skipped",
    "a signed PUT URL needs the request header 'x-ms-blob-type: BlockBlob'; the signature "
    "cannot pin the uploader's Content-Type",
    "keys with '.' or '..' segments are refused: HTTP stacks resolve them in the URL path",
    "keys with a backslash are refused: the service turns '\\' into '/' in blob names",
)

#: Azure Blob Storage itself; signed URLs need a shared key or, with Entra ID credentials, a
#: user-delegation key (the role "Storage Blob Delegator").
AZURE_CAPABILITIES = StorageCapabilities(
    presign_read=True,
    presign_write=True,
    key_dot_segments=False,
    key_backslash=False,
    notes=_COMMON_NOTES,
)

#: Azurite 3.x, the official emulator.
AZURITE_CAPABILITIES = StorageCapabilities(
    presign_read=True,
    presign_write=True,
    key_dot_segments=False,
    key_backslash=False,
    notes=(
        *_COMMON_NOTES,
        "Azurite: accounts are path-style (http://HOST:PORT/ACCOUNT/CONTAINER/KEY)",
        "Azurite: Put Blob From URL is not implemented; copies use Copy Blob",
        "Azurite: no user-delegation SAS (it needs --oauth basic over HTTPS); signing needs the "
        "account key of the connection string",
        "Azurite: a listing that meets a key with a character XML 1.0 cannot carry (control "
        "characters, U+FFFE, U+FFFF) fails with HTTP 500",
        "Azurite: accepts metadata names Azure refuses; the escaping keeps both the same",
        "Azurite: a wrong account key is 403 AuthorizationFailure (PERMISSION_DENIED) where "
        "Azure answers AuthenticationFailed (UNAUTHENTICATED)",
    ),
)


def _no_presign(caps: StorageCapabilities, why: str) -> StorageCapabilities:
    return caps.model_copy(
        update={"presign_read": False, "presign_write": False, "notes": (*caps.notes, why)}
    )


# --------------------------------------------------------------------------- helpers


def _translate(exc: Exception) -> PortaCloudError:
    """Return ``exc`` as a portacloud error (used where the driver handles errors itself)."""
    if isinstance(exc, PortaCloudError):
        return exc
    mapped = map_azure_error(exc)
    if mapped is None:
        mapped = UnknownError(f"unexpected {type(exc).__name__} from the Azure SDK")
    mapped.__cause__ = exc
    return mapped


def _guarded(fn: Callable[[], _T]) -> _T:
    """Run ``fn``, raising a portacloud error (retryable flag intact) for a native failure."""
    try:
        return fn()
    except PortaCloudError:
        raise
    except Exception as exc:
        raise _translate(exc) from exc


def _get_blob(blob: Any, byte_range: str | None, *, if_match: str | None = None) -> Any:
    """One Get Blob request: ``(BlobProperties, body generator)``, the body not yet read.

    The SDK's public ``download_blob`` retries broken bodies itself (see :class:`_BodyStream`),
    so this calls the generated operation that the downloader calls, once.
    """
    from azure.storage.blob._deserialize import deserialize_blob_stream
    from azure.storage.blob._generated.models import ModifiedAccessConditions

    conditions = ModifiedAccessConditions(if_match=if_match) if if_match is not None else None
    _, body = blob._client.blob.download(
        range=byte_range,
        modified_access_conditions=conditions,
        cls=deserialize_blob_stream,
        decompress=False,  # the stored bytes, which the CRC32C is of
    )
    return body.properties, body


def _etag(value: object) -> str:
    """An etag in the one form this driver returns: quoted, as the ETag header sends it.

    Listings carry etags unquoted (``<Etag>0x8D...</Etag>``) while heads, reads and writes
    answer ``"0x8D..."``: without one form, a listed etag would never equal a head's.
    """
    text = str(value or "").strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return f'"{text}"' if text else ""


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _code_of(exc: BaseException) -> str | None:
    code = getattr(exc, "error_code", None)
    return None if code is None else str(getattr(code, "value", code))


def _total_size(content_range: str | None, fallback: int) -> int:
    """The object size from a ``bytes a-b/total`` Content-Range."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return fallback


def _int_option(options: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = options.get(name, default)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise InvalidArgumentError(f"option {name} must be an integer from {low} to {high}")
    return raw


def _str_option(options: Mapping[str, Any], name: str) -> str | None:
    raw = options.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidArgumentError(f"option {name} must be a non-empty string")
    return raw.strip()


def _is_emulator(account_url: str, account_name: str | None) -> bool:
    """Path-style account URLs (and loopback hosts) are Azurite's shape, not Azure's."""
    parts = urlsplit(account_url)
    host = parts.hostname or ""
    first_segment = parts.path.strip("/").split("/", 1)[0]
    if account_name and first_segment == account_name:
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- reads


class _EmptyStream:
    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Nothing is open."""


class _BodyStream:
    """The body of one Get Blob response, streamed as it arrives (bounded memory).

    Read with one plain GET rather than the SDK's ``StorageStreamDownloader``: the downloader
    re-sends a request whose body broke off, up to three times with a fixed one-second sleep,
    inside the portable layer's own retries (docs/decisions/0001-retries.md).
    """

    def __init__(self, body: Any) -> None:
        self._body: Any = body

    def __iter__(self) -> Iterator[bytes]:
        body = self._body
        if body is None:
            return
        try:
            for chunk in body:
                if chunk:
                    yield bytes(chunk)
        finally:
            self.close()

    def close(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            # Returns the connection (or drops it, mid-body) whether or not it was read out.
            with contextlib.suppress(Exception):
                body.response.internal_response.close()


# --------------------------------------------------------------------------- writes


class _BlockWriter:
    """A block-blob write: one Put Blob, or staged blocks and one Put Block List."""

    def __init__(self, driver: AzureBlobDriver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._options = options
        self._blob: Any = driver.blob_client(key)
        self._block_size = driver.block_size
        # Bytes given in one piece are replayed by the portable Bucket, which owns their
        # retries; only a stream's blocks are retried here (docs/decisions/0001-retries.md).
        self._retry = RetryPolicy(attempts=1) if options.size_hint is not None else RetryPolicy()
        self._buffer = bytearray()
        self._size = 0
        self._upload_id = uuid.uuid4().hex
        self._block_ids: list[str] = []
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(driver.max_concurrency)
        self._futures: list[Future[None]] = []
        self._closed = False

    # -- staging

    def write(self, data: bytes) -> None:
        if self._closed:
            raise InvalidArgumentError(
                "write after the object was committed or aborted", resource=self._key
            )
        self._raise_failed_block()
        size = self._block_size
        view = memoryview(data).cast("B")
        self._size += len(view)
        while view:
            if not self._buffer and len(view) >= size:
                # A whole block straight from the caller's bytes, without a trip through the
                # buffer.
                self._stage(view[:size])
                view = view[size:]
                continue
            room = size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= size:
                self._stage(self._buffer)
                self._buffer = bytearray()

    def _stage(self, data: bytes | bytearray | memoryview) -> None:
        if len(self._block_ids) >= _MAX_BLOCKS:
            raise InvalidArgumentError(
                f"the object needs more than {_MAX_BLOCKS} blocks; open the bucket with a "
                "larger block_size",
                resource=self._key,
            )
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._driver.max_concurrency, thread_name_prefix="portacloud-az"
            )
        # A slot is taken before the block is copied: with max_concurrency blocks in flight
        # and one in the buffer, memory stays at (max_concurrency + 1) x block_size.
        self._slots.acquire()
        try:
            block = bytes(data)
            # The id names this upload, so two writers of one key never stage over each other.
            block_id = f"{self._upload_id}{len(self._block_ids):08d}"
            future = self._pool.submit(self._stage_block, block_id, block)
        except BaseException:
            self._slots.release()
            raise
        self._block_ids.append(block_id)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _stage_block(self, block_id: str, block: bytes) -> None:
        def once() -> None:
            # Content-MD5: the service refuses a block damaged on the way (Md5Mismatch).
            _guarded(
                lambda: self._blob.stage_block(
                    block_id, block, length=len(block), validate_content=True
                )
            )

        call_with_retry(self._retry, once)

    def _raise_failed_block(self) -> None:
        pending: list[Future[None]] = []
        for future in self._futures:
            if not future.done():
                pending.append(future)
            elif future.exception() is not None:
                self.abort()
                future.result()  # raises the block's error, after the retries it was given
        self._futures = pending

    def _wait_for_blocks(self) -> None:
        for future in self._futures:
            future.result()

    # -- commit and abort

    def commit(self, *, crc32c: str) -> ObjectInfo:
        if self._closed:
            raise InvalidArgumentError(
                "commit after the object was committed or aborted", resource=self._key
            )
        # Metadata goes with the commit, after every byte was seen, so the CRC32C is known.
        metadata = encode_metadata(self._options.metadata, crc32c)
        content_settings = self._driver.content_settings(self._options.content_type)
        try:
            if not self._block_ids:
                body = bytes(self._buffer)
                self._buffer = bytearray()
                response = self._commit_once(
                    lambda conditions: self._blob.upload_blob(
                        body,
                        blob_type="BlockBlob",
                        length=len(body),
                        overwrite=True,  # the conditions decide, not an SDK existence check
                        metadata=metadata,
                        content_settings=content_settings,
                        max_concurrency=1,
                        # Content-MD5: the service refuses a body damaged on the way.
                        validate_content=True,
                        **conditions,
                    )
                )
            else:
                if self._buffer:
                    self._stage(self._buffer)
                    self._buffer = bytearray()
                self._wait_for_blocks()
                response = self._commit_once(
                    lambda conditions: self._blob.commit_block_list(
                        list(self._block_ids),
                        metadata=metadata,
                        content_settings=content_settings,
                        **conditions,
                    )
                )
        finally:
            self._close()
        return self._driver.object_info(
            self._key,
            size=self._size,
            etag=_etag(response["etag"]),
            last_modified=response.get("last_modified"),
            content_type=self._options.content_type or _DEFAULT_CONTENT_TYPE,
            raw_metadata=metadata,
        )

    def _commit_once(self, send: Callable[[dict[str, Any]], Any]) -> Any:
        conditions = self._driver.write_conditions(self._options)
        conditional = bool(conditions)

        def once() -> Any:
            try:
                response = send(conditions)
            except Exception as exc:
                error = _translate(exc)
                if conditional and not _surely_not_applied(exc):
                    # A conditional commit whose response was lost may have succeeded; trying
                    # again would report its own success as a failed condition.
                    error.retryable = False
                raise error from exc
            if not response.get("etag"):
                # A connection closed inside the header block still parses, minus the headers
                # that did not arrive. The write was applied; only an unconditional one may
                # be sent again.
                raise UnavailableError(
                    "the answer to the write was cut short: it has no ETag",
                    resource=self._key,
                    retryable=not conditional,
                )
            return response

        return call_with_retry(self._retry, once)

    def _close(self) -> None:
        self._closed = True
        self._buffer = bytearray()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        # Uncommitted blocks are never visible and the service drops them on its own, so
        # aborting only has to stop staging more and wait for the uploads in flight.
        self._close()


def _surely_not_applied(exc: BaseException) -> bool:
    """Whether a failed request certainly changed nothing on the service."""
    from azure.core.exceptions import ServiceRequestError

    if isinstance(exc, ServiceRequestError):
        return True  # the request was never sent
    # Throttling is answered before the request is processed.
    return _status_of(exc) in (429, 503)


# --------------------------------------------------------------------------- the driver


class _DelegationKeys:
    """User-delegation keys for signing with Entra ID credentials, reused until they expire."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._key: Any = None
        self._expiry: datetime | None = None

    def key_until(self, expiry: datetime) -> Any:
        with self._lock:
            if self._key is None or self._expiry is None or self._expiry < expiry:
                now = datetime.now(UTC)
                # One key for up to a day of URLs (7 days is the service's cap), so signing
                # many URLs costs one request.
                until = min(max(expiry, now + timedelta(days=1)), now + timedelta(days=7))
                self._key = self._service.get_user_delegation_key(
                    key_start_time=now - timedelta(minutes=5), key_expiry_time=until
                )
                self._expiry = until
            return self._key


class AzureBlobDriver:
    """One container of a storage account, through ``azure-storage-blob``.

    Build it through ``portacloud.open_bucket("az://container/prefix")``; see the module
    docstring for how each portable operation maps onto Blob Storage.

    Attributes:
        provider: ``"az"``.
        capabilities: Azure's or Azurite's, without signed URLs when the credential cannot
            sign.
        block_size: Bytes per staged block of a large write (and the largest single Put Blob).
        max_concurrency: Blocks of one write uploaded in parallel.
    """

    provider = "az"

    def __init__(
        self,
        *,
        service: Any,
        container: str,
        capabilities: StorageCapabilities,
        signing: str | None,
        block_size: int = _DEFAULT_BLOCK_SIZE,
        max_concurrency: int = _DEFAULT_CONCURRENCY,
    ) -> None:
        """Wrap a ``BlobServiceClient``.

        Args:
            service: The ``BlobServiceClient`` (its SDK retries off).
            container: The container name.
            capabilities: What this account can do.
            signing: ``"key"`` (shared key), ``"delegation"`` (Entra ID) or ``None``.
            block_size: Bytes per staged block.
            max_concurrency: Parallel block uploads per write.
        """
        self._service = service
        self._container_name = container
        self._container: Any = service.get_container_client(container)
        self.capabilities = capabilities
        self._signing = signing
        self._delegation = _DelegationKeys(service) if signing == "delegation" else None
        self.block_size = block_size
        self.max_concurrency = max_concurrency

    def __repr__(self) -> str:
        return (
            f"AzureBlobDriver(account={self._service.account_name!r}, "
            f"container={self._container_name!r})"
        )

    # ---------------------------------------------------------------- shared pieces

    def blob_client(self, key: str) -> Any:
        """The SDK client of one blob (backslash keys never get here: key_backslash is false)."""
        return self._container.get_blob_client(key)

    @staticmethod
    def content_settings(content_type: str | None) -> Any:
        """The SDK's ``ContentSettings`` for a write."""
        from azure.storage.blob import ContentSettings

        return ContentSettings(content_type=content_type) if content_type else None

    @staticmethod
    def write_conditions(options: WriteOptions) -> dict[str, Any]:
        """``If-None-Match: *`` or ``If-Match: etag`` keyword arguments for a write."""
        from azure.core import MatchConditions

        if options.if_none_match:
            return {"match_condition": MatchConditions.IfMissing}
        if options.if_match is not None:
            return {"etag": options.if_match, "match_condition": MatchConditions.IfNotModified}
        return {}

    @staticmethod
    def object_info(
        key: str,
        *,
        size: int,
        etag: str,
        last_modified: datetime | None,
        content_type: str | None,
        raw_metadata: Mapping[str, str] | None,
    ) -> ObjectInfo:
        """Describe an object from what the service said of it."""
        metadata, checksums = decode_metadata(raw_metadata)
        return ObjectInfo(
            key=key,
            size=size,
            etag=etag,
            last_modified=last_modified,
            content_type=content_type,
            metadata=metadata,
            checksums=checksums,
        )

    def _info(self, key: str, props: Any, *, size: int | None = None) -> ObjectInfo:
        if props.size is None or not props.etag:
            # The service always sends both: the header block was cut short (a body that
            # never came would otherwise read as an empty object).
            raise UnavailableError(
                "the answer was cut short: it has no Content-Length or ETag", resource=key
            )
        settings = getattr(props, "content_settings", None)
        return self.object_info(
            key,
            size=props.size if size is None else size,
            etag=_etag(props.etag),
            last_modified=props.last_modified,
            content_type=getattr(settings, "content_type", None),
            raw_metadata=props.metadata,
        )

    # ---------------------------------------------------------------- BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        return self._info(key, self.blob_client(key).get_blob_properties())

    def read(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, _BodyStream | _EmptyStream]:
        blob = self.blob_client(key)
        if start < 0:
            # Blob Storage has no suffix range, so size the object first and pin the ranged
            # read to that version's etag.
            props = blob.get_blob_properties()
            info = self._info(key, props)
            begin = max(0, info.size + start)
            if begin >= info.size:
                return info, _EmptyStream()
            try:
                _, body = _get_blob(blob, f"bytes={begin}-", if_match=_etag(props.etag))
            except Exception as exc:
                if _status_of(exc) == 412:
                    raise UnavailableError(
                        "the object was replaced while it was being read", retryable=True
                    ) from exc
                raise
            return info, _BodyStream(body)
        whole = start == 0 and end is None
        if whole:
            byte_range = None
        elif end is None:
            byte_range = f"bytes={start}-"
        else:
            byte_range = f"bytes={start}-{end - 1}"
        try:
            props, body = _get_blob(blob, byte_range)
        except Exception as exc:
            if _status_of(exc) != 416:
                raise
            # A start at or past the end: no bytes, but the caller still gets the object.
            return self._info(key, blob.get_blob_properties()), _EmptyStream()
        stream = _BodyStream(body)
        try:
            self._info(key, props)  # checks the answer arrived whole
            size = _total_size(getattr(props, "content_range", None), props.size)
            return self._info(key, props, size=size), stream
        except BaseException:
            stream.close()
            raise

    def open_writer(self, key: str, options: WriteOptions) -> _BlockWriter:
        return _BlockWriter(self, key, options)

    def delete(self, key: str) -> None:
        try:
            self.blob_client(key).delete_blob(delete_snapshots="include")
        except Exception as exc:
            if _code_of(exc) == "BlobNotFound":
                return
            raise

    def delete_many(self, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), _BATCH_DELETE_MAX):
            batch = list(keys[i : i + _BATCH_DELETE_MAX])
            responses = self._container.delete_blobs(
                *batch, delete_snapshots="include", raise_on_any_failure=False
            )
            for key, response in zip(batch, responses, strict=False):
                status = int(response.status_code)
                code = response.headers.get("x-ms-error-code")
                if status < 300 or code == "BlobNotFound":
                    continue
                error = error_from_response(
                    status,
                    code,
                    message=getattr(response, "reason", "") or "",
                    headers=dict(response.headers),
                )
                error.resource = key
                raise error

    def list_page(self, options: ListOptions) -> ListPage:
        from azure.storage.blob import BlobPrefix

        prefix = options.prefix or None
        if options.delimiter:
            items = self._container.walk_blobs(
                name_starts_with=prefix,
                include=["metadata"],
                delimiter=options.delimiter,
                results_per_page=options.page_size,
            )
        else:
            items = self._container.list_blobs(
                name_starts_with=prefix,
                include=["metadata"],
                results_per_page=options.page_size,
            )
        pages = items.by_page(continuation_token=options.token)
        page = next(pages, None)
        entries = list(page) if page is not None else []
        token = pages.continuation_token or None
        after = options.start_after
        objects: list[ObjectInfo] = []
        prefixes: list[PrefixInfo] = []
        for item in entries:
            name = str(item.name)
            if isinstance(item, BlobPrefix):
                if after is None or name > after or self._has_key_after(name, after):
                    prefixes.append(PrefixInfo(key=name))
            elif after is None or name > after:
                objects.append(self._info(name, item))
        return ListPage(objects=tuple(objects), prefixes=tuple(prefixes), next_token=token)

    def _has_key_after(self, prefix: str, start_after: str) -> bool:
        """Whether a common prefix that ``start_after`` falls inside still has keys after it."""
        if not start_after.startswith(prefix):
            return False  # the whole group sorts before start_after
        return any(
            str(blob.name) > start_after
            for blob in self._container.list_blobs(name_starts_with=prefix, results_per_page=1000)
        )

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        from azure.core import MatchConditions

        source = self.blob_client(src_key)
        target = self.blob_client(dst_key)
        conditions = {"match_condition": MatchConditions.IfMissing} if if_none_match else {}
        # Copy Blob within one account: the service reads the source with the caller's own
        # authorization, so the plain URL works for shared keys and Entra ID alike (a client
        # built on a SAS carries it in .url). No metadata is sent, so the source's metadata,
        # the CRC32C included, and its content settings are copied as they are.
        started = target.start_copy_from_url(source.url, **conditions)
        status = str(started.get("copy_status") or "pending")
        props = None
        deadline = time.monotonic() + _COPY_WAIT_MAX.total_seconds()
        delay = 0.05
        while status == "pending":
            if time.monotonic() > deadline:
                with contextlib.suppress(Exception):
                    target.abort_copy(started.get("copy_id"))
                raise DeadlineExceededError(
                    f"the server-side copy did not finish within {_COPY_WAIT_MAX}",
                    resource=dst_key,
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            props = target.get_blob_properties()
            status = str(props.copy.status or "success")
        if status != "success":
            raise UnavailableError(f"the server-side copy ended {status}", resource=dst_key)
        if props is None:
            props = target.get_blob_properties()
        return self._info(dst_key, props)

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return map_azure_error(exc)

    def native(self) -> object | None:
        container: object = self._container  # a ContainerClient
        return container

    def close(self) -> None:
        self._container.close()
        self._service.close()
        if self._signing == "delegation":
            # The DefaultAzureCredential was made for this driver and holds its own sessions.
            with contextlib.suppress(Exception):
                self._service.credential.close()

    # ---------------------------------------------------------------- SupportsSignedURL

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """Return a SAS URL for ``key``.

        A GET URL works with any HTTP client. A PUT URL creates or replaces a block blob, and
        Blob Storage requires the uploader to send the header ``x-ms-blob-type: BlockBlob``
        (the request's ``Content-Type`` becomes the blob's). A SAS cannot pin the uploader's
        Content-Type, so ``content_type`` is not part of the signature.

        With a shared key the SAS is a service SAS; with Entra ID credentials it is a
        user-delegation SAS, which needs the role "Storage Blob Delegator" on the account.
        """
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob = self.blob_client(key)
        expiry = datetime.now(UTC) + expires
        permission = (
            BlobSasPermissions(read=True)
            if method == "GET"
            else BlobSasPermissions(create=True, write=True)
        )
        signer: dict[str, Any]
        if self._signing == "key":
            signer = {"account_key": self._service.credential.account_key}
        elif self._delegation is not None:
            signer = {"user_delegation_key": self._delegation.key_until(expiry)}
        else:  # the capabilities say so first; this guards direct driver use
            raise FailedPreconditionError(
                "this credential cannot sign URLs (a SAS-only connection string)", resource=key
            )
        sas = generate_blob_sas(
            account_name=self._service.account_name,
            container_name=self._container_name,
            blob_name=key,
            permission=permission,
            expiry=expiry,
            **signer,
        )
        return f"{blob.url}?{sas}"


# --------------------------------------------------------------------------- the provider


class AzureProvider:
    """Opens ``az://container[/prefix]``.

    Options (URL query or keyword arguments):
        account: Storage account name; credentials then come from ``DefaultAzureCredential``.
            Without it, ``AZURE_STORAGE_CONNECTION_STRING`` names the account and its key.
        endpoint_url: Blob endpoint, e.g. ``http://127.0.0.1:10000/devstoreaccount1`` for
            Azurite, or a sovereign cloud's endpoint.
        api_version: Storage REST API version to send (Azurite may need an older one).
        block_size: Bytes per staged block (64 KiB to 4000 MiB, default 8 MiB).
        max_concurrency: Parallel block uploads per write (1 to 64, default 4).
    """

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, Any]
    ) -> tuple[AzureBlobDriver, str]:
        """Return a driver for the URL's container and the key prefix from its path."""
        # azure.core and urllib3 log headers and SAS queries at DEBUG: redact them first.
        install_redaction()
        reject_unknown_options("az", options, allowed=_OPTIONS)
        container = url.netloc
        if not _CONTAINER_NAME.match(container):
            raise InvalidArgumentError(
                "az:// URLs name a container: az://CONTAINER/prefix, where CONTAINER is 3-63 "
                f"lower-case letters, digits and single hyphens (got {container!r})"
            )
        prefix = unquote(url.path.lstrip("/"))
        account = _str_option(options, "account")
        endpoint_url = _str_option(options, "endpoint_url")
        api_version = _str_option(options, "api_version")
        block_size = _int_option(
            options, "block_size", _DEFAULT_BLOCK_SIZE, _MIN_BLOCK_SIZE, _MAX_BLOCK_SIZE
        )
        max_concurrency = _int_option(
            options, "max_concurrency", _DEFAULT_CONCURRENCY, 1, _MAX_CONCURRENCY
        )
        if account is not None and not _ACCOUNT_NAME.match(account):
            raise InvalidArgumentError(
                "option account must be a storage account name: 3-24 lower-case letters and digits"
            )
        if endpoint_url is not None and urlsplit(endpoint_url).scheme not in ("http", "https"):
            raise InvalidArgumentError("option endpoint_url must be an http(s) URL")
        client_options: dict[str, Any] = {
            "retry_total": 0,  # the portable layer owns retries (docs/decisions/0001-retries.md)
            "retry_to_secondary": False,
            "max_single_put_size": block_size,
            "max_block_size": block_size,
            "transport": _transport(),
        }
        if api_version is not None:
            client_options["api_version"] = api_version
        service, signing = _service_client(account, endpoint_url, client_options)
        account_url = str(service.url)
        caps = (
            AZURITE_CAPABILITIES
            if _is_emulator(account_url, service.account_name)
            else AZURE_CAPABILITIES
        )
        if signing is None:
            caps = _no_presign(caps, "signed URLs need an account key or Entra ID credentials")
        driver = AzureBlobDriver(
            service=service,
            container=container,
            capabilities=caps,
            signing=signing,
            block_size=block_size,
            max_concurrency=max_concurrency,
        )
        return driver, prefix


def _service_client(
    account: str | None, endpoint_url: str | None, client_options: dict[str, Any]
) -> tuple[Any, str | None]:
    """Build the ``BlobServiceClient`` and say how it can sign: key, delegation or not at all."""
    from azure.storage.blob import BlobServiceClient

    if account is not None:
        from azure.identity import DefaultAzureCredential

        account_url = endpoint_url or f"https://{account}.blob.core.windows.net"
        credential = DefaultAzureCredential()
        return BlobServiceClient(account_url, credential=credential, **client_options), (
            "delegation"
        )
    conn = os.environ.get(CONNECTION_STRING_ENV)
    if not conn:
        raise UnauthenticatedError(
            f"no Azure credentials: set {CONNECTION_STRING_ENV}, or pass the account option "
            "to use DefaultAzureCredential (environment, managed identity, Azure CLI)"
        )
    try:
        service = BlobServiceClient.from_connection_string(conn, **client_options)
        if endpoint_url is not None:
            service = BlobServiceClient(
                endpoint_url, credential=_connection_credential(conn), **client_options
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        # The SDK's message can quote the string; it holds the key, so say only what is wrong.
        raise InvalidArgumentError(
            f"{CONNECTION_STRING_ENV} is not a valid Azure Storage connection string"
        ) from None
    signing = "key" if getattr(service.credential, "account_key", None) else None
    return service, signing


def _transport() -> Any:
    """The transport the SDK would build, over a deeper connection pool.

    The same ``RequestsTransport`` with the SDK's own timeouts and adapter (no retries of its
    own, larger socket blocks), only with ``_POOL_CONNECTIONS`` connections kept for reuse.
    """
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.pipeline.transport._bigger_block_size_http_adapters import (
        BiggerBlockSizeHTTPAdapter,
    )
    from azure.storage.blob._shared.constants import (
        CONNECTION_TIMEOUT,
        DATA_BLOCK_SIZE,
        READ_TIMEOUT,
    )
    from urllib3.util.retry import Retry

    session = requests.Session()
    adapter = BiggerBlockSizeHTTPAdapter(
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        pool_connections=_POOL_CONNECTIONS,
        pool_maxsize=_POOL_CONNECTIONS,
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=CONNECTION_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        connection_data_block_size=DATA_BLOCK_SIZE,
    )


def _connection_credential(conn: str) -> Any:
    """The credential a connection string carries, for use with another endpoint."""
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

    fields = {}
    for part in conn.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if fields.get("accountname") and fields.get("accountkey"):
        return AzureNamedKeyCredential(fields["accountname"], fields["accountkey"])
    if fields.get("sharedaccesssignature"):
        return AzureSasCredential(fields["sharedaccesssignature"])
    raise ValueError("no credential")


provider = AzureProvider()

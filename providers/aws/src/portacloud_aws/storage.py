"""``s3://bucket/prefix``: Amazon S3 and S3-compatible servers through boto3.

boto3 is imported in :meth:`S3Provider.open_bucket`, never at import time. The client is built
with botocore's retries off (``total_max_attempts=1``): the portable ``Bucket`` owns retries of
replayable calls, and this driver retries only the multipart parts it holds in memory (see
docs/decisions/0001-retries.md).

Where the portable CRC32C lives:

- single-part writes: user metadata ``portacloud-crc32c``; on servers with native CRC32C
  (AWS, SeaweedFS) the same value also goes in ``x-amz-checksum-crc32c``, so the server refuses
  bytes damaged in transit;
- multipart writes on servers with native CRC32C: ``CreateMultipartUpload`` asks for a
  ``FULL_OBJECT`` CRC32C, every part carries its own CRC32C and ``CompleteMultipartUpload`` the
  whole object's, which the server checks (``BadDigest`` otherwise) and returns on HEAD;
- multipart writes elsewhere (moto computes CRC32C wrongly without an optional package and
  checks nothing; MinIO's full-object checksums are unreliable): after completion, a
  metadata-only ``CopyObject`` of the object onto itself adds ``portacloud-crc32c``, guarded by
  ``x-amz-copy-source-if-match`` on the etag the completion returned, so it can never stamp our
  CRC onto a concurrent writer's bytes. Between the two requests the object is readable without
  a CRC32C (reads then skip verification).
"""

from __future__ import annotations

import binascii
import importlib
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from portacloud.checksums import (
    CRC32C_METADATA_KEY,
    crc32c_from_base64,
    crc32c_hex,
    crc32c_to_base64,
)
from portacloud.errors import (
    CancelledError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.logging_redaction import install_redaction
from portacloud.providers.options import reject_unknown_options
from portacloud.retry import RetryPolicy, call_conditional_with_retry, call_with_retry
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud_aws.vendors import VENDORS, VendorProfile, detect_vendor

__all__ = ["S3Driver", "S3Provider", "provider"]

_T = TypeVar("_T")
_log = logging.getLogger("portacloud.s3")

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
#: Parts are this big unless ``part_size`` says otherwise.
DEFAULT_PART_SIZE = 8 * MiB
#: S3's limits on parts: every part but the last is at least 5 MiB, at most 5 GiB, 10,000 of them.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
#: Parts of one write in flight at once, unless ``max_concurrency`` says otherwise.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
#: The largest object one CopyObject can copy; bigger ones are copied part by part.
MAX_SINGLE_COPY = 5 * GiB
_COPY_PART_SIZE = 1 * GiB
_READ_CHUNK = 1 * MiB

_OPTIONS = (
    "endpoint_url",
    "region",
    "profile",
    "addressing_style",
    "vendor",
    "part_size",
    "max_concurrency",
)
_ADDRESSING = ("path", "virtual", "auto")
_SIZE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": KiB, "kb": KiB, "kib": KiB, "m": MiB, "mb": MiB, "mib": MiB}
_UNITS |= {"g": GiB, "gb": GiB, "gib": GiB}
_HEX8 = re.compile(r"^[0-9a-f]{8}$")
# Stored headers a MetadataDirective=REPLACE copy would drop unless sent again.
_REPLAYED_HEADERS = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
)


# --------------------------------------------------------------------------- small helpers


def _quote_etag(etag: object) -> str:
    """Etags in one form everywhere: quoted, as S3 sends them (SeaweedFS omits the quotes)."""
    text = str(etag or "").strip()
    if text.startswith("W/"):
        text = text[2:]
    return f'"{text.strip(chr(34))}"' if text else ""


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _valid_crc(value: object) -> str | None:
    if isinstance(value, str) and _HEX8.match(value.strip().lower()):
        return value.strip().lower()
    return None


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _server_header(response: object) -> str | None:
    if not isinstance(response, Mapping):
        return None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    server = headers.get("server") if isinstance(headers, Mapping) else None
    return str(server) if server else None


def _content_length(response: Mapping[str, Any]) -> int:
    """The Content-Length of a GET or HEAD answer, which S3 always sends.

    A connection closed inside the header block still parses (HTTP/1.1 clients take the end
    of the stream as the end of the headers), minus the headers that did not arrive; without
    Content-Length, a body that never came would read as an empty object.
    """
    length = response.get("ContentLength")
    if not isinstance(length, int):
        raise UnavailableError("the answer was cut short: it has no Content-Length")
    return length


def _etag_of(response: Mapping[str, Any]) -> str:
    """The ETag of a write's answer, which S3 always sends (see :func:`_content_length`)."""
    etag = str(response.get("ETag") or "")
    if not etag:
        raise UnavailableError("the answer to the write was cut short: it has no ETag")
    return etag


def _range_header(start: int, end: int | None) -> str | None:
    if start < 0:
        return f"bytes={start}"  # a suffix: the last -start bytes
    if end is None:
        return None if start == 0 else f"bytes={start}-"
    return f"bytes={start}-{end - 1}"


def _total_size(content_range: object, fallback: int) -> int:
    # "bytes 0-9/12345": the object's size is after the slash.
    if isinstance(content_range, str) and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return fallback


def _is_aws_endpoint(url: str | None) -> bool:
    host = (urlsplit(url).hostname or "") if url else ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn")) or host == "amazonaws.com"


def _copy_part_size(size: int) -> int:
    wanted = max(math.ceil(size / MAX_PARTS), min(_COPY_PART_SIZE, MAX_SINGLE_COPY))
    return max(MIN_PART_SIZE, wanted)


# --------------------------------------------------------------------------- options


def _option_str(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"s3:// option {name} must be a non-empty string")
    return value.strip()


def _option_size(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"s3:// option {name} must be a byte count such as 8388608 or '8MiB', not {value!r}"
        )
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _option_int(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise InvalidArgumentError(f"s3:// option {name} must be an integer, not {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settings:
    endpoint_url: str | None
    region: str | None
    profile: str | None
    addressing_style: str | None
    vendor: str | None
    part_size: int
    max_concurrency: int


def _settings(options: Mapping[str, Any]) -> _Settings:
    reject_unknown_options("s3", options, allowed=_OPTIONS)
    endpoint_url = _option_str(options, "endpoint_url")
    if endpoint_url is not None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(
                f"s3:// option endpoint_url must be an http(s) URL, not {endpoint_url!r}"
            )
        if parts.username or parts.password:
            raise InvalidArgumentError(
                "endpoint_url must not carry credentials; use the AWS credential chain"
            )
    addressing = _option_str(options, "addressing_style")
    if addressing is not None and addressing not in _ADDRESSING:
        raise InvalidArgumentError(
            f"s3:// option addressing_style must be one of {', '.join(_ADDRESSING)}, "
            f"not {addressing!r}"
        )
    vendor = _option_str(options, "vendor")
    if vendor is not None and vendor not in VENDORS:
        raise InvalidArgumentError(
            f"s3:// option vendor must be one of {', '.join(VENDORS)}, not {vendor!r}"
        )
    part_size = _option_size(options, "part_size", DEFAULT_PART_SIZE)
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise InvalidArgumentError(
            f"s3:// option part_size must be between 5 MiB and 5 GiB (S3's part limits), "
            f"not {part_size}"
        )
    concurrency = _option_int(options, "max_concurrency", DEFAULT_CONCURRENCY)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidArgumentError(
            f"s3:// option max_concurrency must be 1..{MAX_CONCURRENCY}, not {concurrency}"
        )
    return _Settings(
        endpoint_url=endpoint_url,
        region=_option_str(options, "region"),
        profile=_option_str(options, "profile"),
        addressing_style=addressing,
        vendor=vendor,
        part_size=part_size,
        max_concurrency=concurrency,
    )


# --------------------------------------------------------------------------- reads


class _BodyStream:
    """The body of one GetObject, read in 1 MiB chunks; close() returns the connection."""

    def __init__(self, body: Any) -> None:
        self._body: Any = body

    def __iter__(self) -> Iterator[bytes]:
        while self._body is not None:
            # StreamingBody.read raises IncompleteReadError when the body ends early.
            chunk: bytes = self._body.read(_READ_CHUNK)
            if not chunk:
                break
            yield chunk
        self.close()

    def close(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()


class _EmptyStream:
    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------- writes


class _S3Writer:
    """One object being written: a single PutObject, or a multipart upload once it outgrows a part.

    Memory stays bounded: at most ``max_concurrency`` parts are in flight and one more is being
    filled. Every failure and every :meth:`abort` aborts the multipart upload, after the parts
    still in flight have finished, so no upload is left behind to be billed.
    """

    def __init__(self, driver: S3Driver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._client: Any = driver.client
        self._bucket = driver.bucket
        self._key = key
        self._options = options
        self._native = driver.profile.native_crc32c
        # Bytes given whole (size_hint known) are replayed by the portable Bucket, which owns
        # their retries; a stream cannot be replayed, so this writer retries what it holds.
        self._retry = options.size_hint is None
        self._base_part_size = driver.part_size
        conditional = options.if_none_match or options.if_match is not None
        # Where completion checks conditions non-atomically, a conditional write must be one
        # PutObject (see VendorProfile.atomic_conditional_complete).
        self._single_only = conditional and not driver.profile.atomic_conditional_complete
        if options.size_hint is not None:
            if self._single_only and options.size_hint > MAX_PART_SIZE:
                raise self._unsupported()
            # Bytes already in memory: fit them into S3's 10,000 parts, or into one PutObject
            # when the write must be single.
            needed = (
                options.size_hint if self._single_only else math.ceil(options.size_hint / MAX_PARTS)
            )
            self._base_part_size = min(MAX_PART_SIZE, max(driver.part_size, needed))
        self._buffer = bytearray()
        self._size = 0
        self._upload_id: str | None = None
        self._next_part = 1
        self._parts: dict[int, dict[str, Any]] = {}
        self._futures: set[Future[None]] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(driver.max_concurrency)
        self._lock = threading.Lock()
        self._failure: PortaCloudError | None = None
        self._finished = False
        self._aborting = threading.Event()

    # ----------------------------------------------------------------- DriverWriter

    def write(self, data: bytes) -> None:
        """Buffer ``data``; send every full part to the thread pool."""
        if self._finished:
            raise InvalidArgumentError("write after the object was committed or aborted")
        self._raise_failure()
        self._size += len(data)
        view = memoryview(data)
        # Strictly more than a part: a body of exactly one part stays a single PutObject.
        while len(self._buffer) + len(view) > (size := self._part_size()):
            if self._single_only:
                raise self._unsupported()
            take = size - len(self._buffer)
            part = b"".join((self._buffer, view[:take]))
            self._buffer = bytearray()
            view = view[take:]
            self._send(part)
        self._buffer += view

    def commit(self, *, crc32c: str) -> ObjectInfo:
        """Make the object visible (PutObject or CompleteMultipartUpload) and describe it."""
        if self._finished:
            raise InvalidArgumentError("commit after the object was committed or aborted")
        self._finished = True
        try:
            etag = self._put_single(crc32c) if self._upload_id is None else self._complete(crc32c)
        except BaseException:
            self._stop_parts()
            self._abort_upload()
            raise
        finally:
            self._shutdown_pool()
        return ObjectInfo(
            key=self._key,
            size=self._size,
            etag=_quote_etag(etag),
            content_type=self._options.content_type,
            metadata=dict(self._options.metadata),
            checksums={"crc32c": crc32c},
        )

    def abort(self) -> None:
        """Discard the write and abort its multipart upload; safe to call more than once."""
        self._finished = True
        self._buffer = bytearray()
        self._stop_parts()
        self._abort_upload()
        self._shutdown_pool()

    # ----------------------------------------------------------------- parts

    def _part_size(self) -> int:
        # An unbounded stream grows its parts every 1,000 so that 10,000 of them hold
        # 55,000 base parts (440 GiB at 8 MiB) rather than 10,000; memory grows with them.
        growth = 1 + (self._next_part - 1) // 1000
        return min(MAX_PART_SIZE, self._base_part_size * growth)

    def _unsupported(self) -> UnsupportedError:
        return UnsupportedError(
            f"a conditional write of more than one part ({self._base_part_size} bytes) is not "
            f"atomic on {self._driver.profile.name}: its CompleteMultipartUpload checks "
            "If-None-Match/If-Match without a lock; write in-memory bytes (up to 5 GiB), raise "
            "the part_size option, or write without a condition",
            resource=self._key,
        )

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _start_upload(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key}
        kwargs["Metadata"] = dict(self._options.metadata)
        if self._options.content_type:
            kwargs["ContentType"] = self._options.content_type
        if self._native:
            kwargs["ChecksumAlgorithm"] = "CRC32C"
            kwargs["ChecksumType"] = "FULL_OBJECT"
        response = self._driver.run(
            lambda: self._client.create_multipart_upload(**kwargs), retry=self._retry
        )
        self._upload_id = str(response["UploadId"])
        self._pool = ThreadPoolExecutor(
            max_workers=self._driver.max_concurrency, thread_name_prefix="portacloud-s3-part"
        )

    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            self._start_upload()
        assert self._pool is not None  # set together with the upload id
        number = self._next_part
        if number > MAX_PARTS:
            raise InvalidArgumentError(
                f"the object needs more than {MAX_PARTS} parts; raise part_size"
            )
        self._next_part += 1
        self._slots.acquire()  # bounds memory: at most max_concurrency parts in flight
        if self._failure is not None:
            self._slots.release()
            raise self._failure
        future = self._pool.submit(self._upload_part, number, part)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._part_done)

    def _part_done(self, future: Future[None]) -> None:
        self._slots.release()
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None and self._failure is None:
            self._failure = (
                exc
                if isinstance(exc, PortaCloudError)
                else self._driver.to_portable(exc, "a multipart part upload failed")
            )

    def _upload_part(self, number: int, data: bytes) -> None:
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "UploadId": self._upload_id,
            "PartNumber": number,
            "Body": data,
        }
        if self._native:
            kwargs["ChecksumCRC32C"] = crc32c_to_base64(crc32c_hex(data))

        def once() -> Any:
            if self._aborting.is_set():
                raise CancelledError("the write was aborted")
            return self._client.upload_part(**kwargs)

        response = self._driver.run(once, retry=self._retry)
        done: dict[str, Any] = {"PartNumber": number, "ETag": response["ETag"]}
        if self._native:
            done["ChecksumCRC32C"] = kwargs["ChecksumCRC32C"]
        with self._lock:
            self._parts[number] = done

    def _wait_parts(self) -> None:
        with self._lock:
            pending = set(self._futures)
        # Fail fast on the first broken part, then make sure every part is in.
        wait(pending, return_when=FIRST_EXCEPTION)
        self._raise_part_errors(pending)
        wait(pending)
        self._raise_part_errors(pending)
        if len(self._parts) != self._next_part - 1:
            raise UnavailableError("a multipart part went missing", resource=self._key)

    def _raise_part_errors(self, futures: set[Future[None]]) -> None:
        for future in futures:
            if future.done() and not future.cancelled():
                exc = future.exception()
                if exc is not None:
                    if isinstance(exc, PortaCloudError):
                        raise exc
                    raise self._driver.to_portable(exc, "a multipart part upload failed") from exc

    def _stop_parts(self) -> None:
        self._aborting.set()
        with self._lock:
            pending = set(self._futures)
        for future in pending:
            future.cancel()
        # A part request already on the wire cannot be recalled: wait for it, so that it
        # cannot land after the abort and leave a part (and the upload) behind.
        wait(pending)

    def _shutdown_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _abort_upload(self) -> None:
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return

        def once() -> Any:
            return self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=upload_id
            )

        try:
            # Always retried: aborting is idempotent, and an upload left behind is billed.
            self._driver.run(once, retry=True)
        except NotFoundError:
            pass  # already gone
        except PortaCloudError as exc:
            # abort() runs while another error propagates: log rather than mask it.
            _log.warning(
                "could not abort multipart upload %s of s3://%s/%s (%s); an "
                "AbortIncompleteMultipartUpload lifecycle rule will reclaim it",
                upload_id,
                self._bucket,
                self._key,
                exc,
            )

    # ----------------------------------------------------------------- commit

    def _conditions(self) -> dict[str, str]:
        if self._options.if_none_match:
            return {"IfNoneMatch": "*"}
        if self._options.if_match is not None:
            return {"IfMatch": _quote_etag(self._options.if_match)}
        return {}

    def _put_single(self, crc32c: str) -> str:
        body = bytes(self._buffer)
        self._buffer = bytearray()
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "Body": body,
            "Metadata": {**self._options.metadata, CRC32C_METADATA_KEY: crc32c},
            **self._conditions(),
        }
        if self._options.content_type:
            kwargs["ContentType"] = self._options.content_type
        if self._native:
            kwargs["ChecksumCRC32C"] = crc32c_to_base64(crc32c)
        return self._driver.run(
            lambda: _etag_of(self._client.put_object(**kwargs)),
            retry=self._retry,
            conditional=bool(self._conditions()),
        )

    def _complete(self, crc32c: str) -> str:
        if self._buffer:
            last = bytes(self._buffer)
            self._buffer = bytearray()
            self._send(last)
        self._wait_parts()
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "UploadId": self._upload_id,
            "MultipartUpload": {"Parts": [self._parts[n] for n in sorted(self._parts)]},
            **self._conditions(),
        }
        if self._native:
            kwargs["ChecksumCRC32C"] = crc32c_to_base64(crc32c)
            kwargs["ChecksumType"] = "FULL_OBJECT"
        etag = self._driver.run(
            lambda: _etag_of(self._client.complete_multipart_upload(**kwargs)),
            retry=self._retry,
            conditional=bool(self._conditions()),
        )
        self._upload_id = None  # completed: nothing is left to abort
        if self._native:
            return etag
        return self._driver.stamp_crc32c(
            self._key, etag, size=self._size, options=self._options, crc32c=crc32c
        )


# --------------------------------------------------------------------------- driver


class S3Driver:
    """A bucket on S3 or an S3-compatible server.

    Attributes:
        provider: ``"s3"``.
        capabilities: The capabilities of the vendor profile in use.
        profile: The vendor profile (``aws``, ``seaweedfs``, ``moto``...).
        client: The boto3 S3 client.
        bucket: The bucket name.
        part_size: Bytes per multipart part (the first 1,000 parts).
        max_concurrency: Parts uploaded at once by one write.
    """

    provider = "s3"

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        profile: VendorProfile,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.client: Any = client
        self.bucket = bucket
        self.profile = profile
        self.capabilities: StorageCapabilities = profile.capabilities
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self._retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"S3Driver(bucket={self.bucket!r}, vendor={self.profile.name!r})"

    # ----------------------------------------------------------------- plumbing

    def to_portable(self, exc: BaseException, what: str) -> PortaCloudError:
        """Map ``exc`` through the provider's table (or wrap it as UNAVAILABLE)."""
        from portacloud_aws.errors import map_s3_error

        return map_s3_error(exc) or UnavailableError(f"{what}: {type(exc).__name__}")

    def run(self, fn: Callable[[], _T], *, retry: bool, conditional: bool = False) -> _T:
        """Call ``fn`` raising portacloud errors, retried under the policy when ``retry``.

        ``conditional`` marks a conditional write, whose retries must not turn its own lost
        answer into a failed condition (:func:`portacloud.retry.call_conditional_with_retry`).
        """

        def once() -> _T:
            try:
                return fn()
            except PortaCloudError:
                raise
            except Exception as exc:
                raise self.to_portable(exc, "S3 request failed") from exc

        if not retry:
            return once()
        if conditional:
            return call_conditional_with_retry(self._retry, once)
        return call_with_retry(self._retry, once)

    def _head_kwargs(self, key: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if self.profile.native_crc32c:
            kwargs["ChecksumMode"] = "ENABLED"
        return kwargs

    def _info(
        self, key: str, response: Mapping[str, Any], *, size: int | None = None
    ) -> ObjectInfo:
        metadata = {str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()}
        crc = _valid_crc(metadata.pop(CRC32C_METADATA_KEY, None))
        if crc is None and self.profile.native_crc32c:
            crc = self._native_crc(response)
        return ObjectInfo(
            key=key,
            size=_content_length(response) if size is None else size,
            etag=_quote_etag(response.get("ETag")),
            last_modified=_utc(response.get("LastModified")),
            content_type=response.get("ContentType") or None,
            metadata=metadata,
            checksums={"crc32c": crc} if crc else {},
        )

    @staticmethod
    def _native_crc(response: Mapping[str, Any]) -> str | None:
        value = response.get("ChecksumCRC32C")
        kind = response.get("ChecksumType")
        # A COMPOSITE checksum ("xxxx-3") is a CRC of the parts' CRCs, not of the bytes.
        if not isinstance(value, str) or "-" in value or kind not in (None, "FULL_OBJECT"):
            return None
        try:
            return crc32c_from_base64(value)
        except (ValueError, binascii.Error):
            return None

    # ----------------------------------------------------------------- BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        """HeadObject."""
        return self._info(key, self.client.head_object(**self._head_kwargs(key)))

    def read(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, _BodyStream | _EmptyStream]:
        """GetObject with a Range; a range past the end (HTTP 416) reads as no bytes."""
        kwargs = self._head_kwargs(key)
        byte_range = _range_header(start, end)
        if byte_range is not None:
            kwargs["Range"] = byte_range
        try:
            response = self.client.get_object(**kwargs)
        except Exception as exc:
            if _http_status(exc) != 416:
                raise
            return self.stat(key), _EmptyStream()
        try:
            size = _content_length(response)
        except UnavailableError:
            response["Body"].close()
            raise
        if byte_range is not None:
            size = _total_size(response.get("ContentRange"), size)
        return self._info(key, response, size=size), _BodyStream(response["Body"])

    def open_writer(self, key: str, options: WriteOptions) -> _S3Writer:
        """Begin a write; nothing is sent until a part fills or the write commits."""
        return _S3Writer(self, key, options)

    def delete(self, key: str) -> None:
        """DeleteObject; S3 answers 204 for a missing key too."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Sequence[str]) -> None:
        """DeleteObjects (up to 1,000 keys; the portable Bucket batches)."""
        if not keys:
            return
        response = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        failed = [e for e in response.get("Errors") or [] if e.get("Code") != "NoSuchKey"]
        if failed:
            from portacloud_aws.errors import make_client_error

            first = failed[0]
            message = (
                f"{len(failed)} of {len(keys)} deletes failed; first {first.get('Key')!r}: "
                f"{first.get('Message', '')}"
            )
            raise make_client_error(str(first.get("Code", "")), message, "DeleteObjects")

    def list_page(self, options: ListOptions) -> ListPage:
        """ListObjectsV2; its continuation token is the page token."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": options.page_size}
        if options.prefix:
            kwargs["Prefix"] = options.prefix
        if options.delimiter:
            kwargs["Delimiter"] = options.delimiter
        if options.token:
            kwargs["ContinuationToken"] = options.token
        elif options.start_after:
            kwargs["StartAfter"] = options.start_after
        # botocore asks for EncodingType=url and decodes keys, so any character survives XML.
        response = self.client.list_objects_v2(**kwargs)
        objects = tuple(
            ObjectInfo(
                key=item["Key"],
                size=int(item.get("Size", 0)),
                etag=_quote_etag(item.get("ETag")),
                last_modified=_utc(item.get("LastModified")),
            )
            for item in response.get("Contents") or []
        )
        prefixes = tuple(
            PrefixInfo(key=item["Prefix"]) for item in response.get("CommonPrefixes") or []
        )
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return ListPage(objects=objects, prefixes=prefixes, next_token=token or None)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        """CopyObject (UploadPartCopy above 5 GiB), pinned to the source's current etag."""
        head = self.client.head_object(**self._head_kwargs(src_key))
        source = self._info(src_key, head)
        raw_metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
        if source.crc32c is not None:
            # A native CRC32C does not survive every copy path: keep it in metadata as well.
            raw_metadata[CRC32C_METADATA_KEY] = source.crc32c
        try:
            if source.size > MAX_SINGLE_COPY:
                etag = self._multipart_copy(
                    src_key,
                    dst_key,
                    size=source.size,
                    source_etag=source.etag,
                    content_type=source.content_type,
                    metadata=raw_metadata,
                    conditions={"IfNoneMatch": "*"} if if_none_match else {},
                )
                last_modified = None
            else:
                kwargs: dict[str, Any] = {
                    "Bucket": self.bucket,
                    "Key": dst_key,
                    "CopySource": {"Bucket": self.bucket, "Key": src_key},
                    "CopySourceIfMatch": source.etag,
                }
                stored = {str(k).lower() for k in head.get("Metadata") or {}}
                if src_key == dst_key or (
                    source.crc32c is not None and CRC32C_METADATA_KEY not in stored
                ):
                    # S3 refuses a copy onto itself that changes nothing, and a native CRC32C
                    # does not survive every copy path: replace the metadata with the same
                    # values plus the CRC32C, and carry the other stored headers along.
                    kwargs["MetadataDirective"] = "REPLACE"
                    kwargs["Metadata"] = raw_metadata
                    kwargs.update({h: head[h] for h in _REPLAYED_HEADERS if head.get(h)})
                else:
                    kwargs["MetadataDirective"] = "COPY"
                if if_none_match:
                    kwargs["IfNoneMatch"] = "*"
                result = self.client.copy_object(**kwargs).get("CopyObjectResult", {})
                etag = str(result.get("ETag", ""))
                last_modified = _utc(result.get("LastModified"))
        except Exception as exc:
            if _http_status(exc) != 412:
                raise
            # Two conditions can fail: the destination exists (if_none_match) or the source
            # changed since the HEAD above. Only the first is the caller's FAILED_PRECONDITION.
            if if_none_match and self._exists(dst_key):
                raise
            raise UnavailableError(
                "the source object changed during the copy", resource=src_key
            ) from exc
        return ObjectInfo(
            key=dst_key,
            size=source.size,
            etag=_quote_etag(etag),
            last_modified=last_modified,
            content_type=source.content_type,
            metadata=source.metadata,
            checksums=source.checksums,
        )

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _http_status(exc) == 404:
                return False
            raise
        return True

    def _multipart_copy(
        self,
        src_key: str,
        dst_key: str,
        *,
        size: int,
        source_etag: str,
        content_type: str | None,
        metadata: Mapping[str, str],
        conditions: Mapping[str, str],
    ) -> str:
        """Copy an object too big for one CopyObject with UploadPartCopy, in parallel."""
        create: dict[str, Any] = {"Bucket": self.bucket, "Key": dst_key, "Metadata": dict(metadata)}
        if content_type:
            create["ContentType"] = content_type
        upload_id = str(self.client.create_multipart_upload(**create)["UploadId"])
        part_size = _copy_part_size(size)
        ranges = [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]

        def copy_part(numbered: tuple[int, tuple[int, int]]) -> dict[str, Any]:
            number, (first, last) = numbered
            response = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=dst_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": src_key},
                CopySourceRange=f"bytes={first}-{last}",
                CopySourceIfMatch=source_etag,
            )
            return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

        try:
            with ThreadPoolExecutor(
                max_workers=self.max_concurrency, thread_name_prefix="portacloud-s3-copy"
            ) as pool:
                parts = list(pool.map(copy_part, enumerate(ranges, start=1)))
            response = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=dst_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **conditions,
            )
        except BaseException:
            try:
                self.run(
                    lambda: self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=dst_key, UploadId=upload_id
                    ),
                    retry=True,
                )
            except PortaCloudError as exc:
                _log.warning("could not abort multipart copy upload %s: %s", upload_id, exc)
            raise
        return str(response.get("ETag", ""))

    def stamp_crc32c(
        self, key: str, etag: str, *, size: int, options: WriteOptions, crc32c: str
    ) -> str:
        """Add the CRC32C to a just-completed multipart object's metadata; return its etag.

        The metadata-only self-copy is pinned to ``etag`` (the completion's), so if another
        writer replaced the object meanwhile nothing is stamped: their object is not ours to
        describe, and ours is gone.
        """
        metadata = {**options.metadata, CRC32C_METADATA_KEY: crc32c}

        def once() -> str:
            if not self.profile.copy_checks_source_if_match:
                # The server ignores the copy condition: check it here, narrowing the window.
                current = self.client.head_object(Bucket=self.bucket, Key=key)
                if _quote_etag(current.get("ETag")) != _quote_etag(etag):
                    return etag
            if size > MAX_SINGLE_COPY:
                return self._multipart_copy(
                    key,
                    key,
                    size=size,
                    source_etag=etag,
                    content_type=options.content_type,
                    metadata=metadata,
                    conditions={"IfMatch": _quote_etag(etag)},
                )
            kwargs: dict[str, Any] = {
                "Bucket": self.bucket,
                "Key": key,
                "CopySource": {"Bucket": self.bucket, "Key": key},
                "CopySourceIfMatch": _quote_etag(etag),
                "MetadataDirective": "REPLACE",
                "Metadata": metadata,
            }
            if options.content_type:
                kwargs["ContentType"] = options.content_type
            result = self.client.copy_object(**kwargs).get("CopyObjectResult", {})
            return str(result.get("ETag", ""))

        try:
            return self.run(once, retry=options.size_hint is None)
        except (FailedPreconditionError, NotFoundError):
            # Replaced or deleted since completion, or a retried copy that had already
            # succeeded: in the last case the object carries our CRC32C and is still ours.
            try:
                current = self.stat(key)
            except Exception:  # noqa: BLE001 - any failure here means "not ours to describe"
                return etag
            if current.crc32c == crc32c and current.size == size:
                return current.etag
            return etag

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """A SigV4 presigned GET or PUT (``ContentType`` is signed for PUT)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if method == "PUT" and content_type:
            params["ContentType"] = content_type
        operation = "get_object" if method == "GET" else "put_object"
        url: str = self.client.generate_presigned_url(
            operation,
            Params=params,
            ExpiresIn=max(1, int(expires.total_seconds())),
            HttpMethod=method,
        )
        return url

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate a botocore/urllib3 exception through :mod:`portacloud_aws.errors`."""
        from portacloud_aws.errors import map_s3_error

        return map_s3_error(exc)

    def collect_garbage(self, *, older_than: timedelta) -> list[str]:
        """Abort the bucket's multipart uploads initiated more than ``older_than`` ago."""
        from portacloud_aws.uploads import abort_stale_uploads

        return abort_stale_uploads(
            self.client,
            self.bucket,
            older_than=older_than,
            not_found=self.client.exceptions.NoSuchUpload,
        )

    def native(self) -> object | None:
        """The boto3 S3 client."""
        client: object = self.client
        return client

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()


# --------------------------------------------------------------------------- provider


class S3Provider:
    """Opens ``s3://bucket[/prefix]`` with the options described in the README."""

    def open_bucket(self, url: SplitResult, options: Mapping[str, Any]) -> tuple[S3Driver, str]:
        """Build the boto3 client, pick the vendor profile and return the driver and prefix.

        Args:
            url: The split ``s3://`` URL; its netloc is the bucket, its path the key prefix.
            options: URL query and keyword options: ``endpoint_url``, ``region``, ``profile``,
                ``addressing_style`` (path|virtual|auto), ``vendor``
                (aws|seaweedfs|moto|minio|r2|ceph|generic), ``part_size`` and
                ``max_concurrency``.

        Raises:
            InvalidArgumentError: for a missing bucket name or a bad option.
        """
        # botocore logs headers, tokens and signatures at DEBUG: redact them first.
        install_redaction()
        settings = _settings(options)
        bucket = url.netloc
        if not bucket:
            raise InvalidArgumentError("s3:// URLs need a bucket name: s3://BUCKET[/prefix]")
        prefix = url.path.lstrip("/")
        try:
            driver = _open_driver(bucket, settings)
        except PortaCloudError:
            raise
        except Exception as exc:
            from portacloud_aws.errors import map_s3_error

            mapped = map_s3_error(exc) or InvalidArgumentError(
                f"could not configure the S3 client: {type(exc).__name__}"
            )
            raise mapped from exc
        return driver, prefix


def _build_client(
    session: Any,
    settings: _Settings,
    *,
    region: str | None,
    addressing_style: str,
    checksum_calculation: str,
) -> Any:
    config = importlib.import_module("botocore.config").Config(
        region_name=region,
        # SigV4 everywhere: botocore would otherwise presign custom endpoints with SigV2.
        signature_version="s3v4",
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": addressing_style},
        # Enough for a caller's threads (a migration runs 16) and every write's parts at once;
        # botocore drops, rather than reuses, a connection beyond the pool.
        max_pool_connections=max(64, 2 * settings.max_concurrency + 8),
        request_checksum_calculation=checksum_calculation,
        # The portable layer checks the CRC32C of every whole read already.
        response_checksum_validation="when_required",
        user_agent_appid="portacloud",
    )
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)


def _open_driver(bucket: str, settings: _Settings) -> S3Driver:
    boto3 = importlib.import_module("boto3")
    session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
    region: str | None = session.region_name
    probe = _build_client(
        session,
        settings,
        region=region,
        addressing_style=settings.addressing_style or "auto",
        checksum_calculation="when_required",
    )
    try:
        # The endpoint may come from the option, AWS_ENDPOINT_URL(_S3) or the config file.
        custom = not _is_aws_endpoint(probe.meta.endpoint_url)
        # Emulators and private servers rarely have wildcard DNS for virtual-hosted buckets.
        addressing = settings.addressing_style or ("path" if custom else "auto")
        vendor = settings.vendor
        if vendor is None and not custom:
            vendor = "aws"
        elif vendor is None:
            if addressing != (settings.addressing_style or "auto"):
                probe.close()
                probe = _build_client(
                    session,
                    settings,
                    region=region,
                    addressing_style=addressing,
                    checksum_calculation="when_required",
                )
            vendor = _detect(probe, bucket)
    finally:
        probe.close()
    profile = VENDORS[vendor]
    client = _build_client(
        session,
        settings,
        region=region or (profile.default_region if custom else None),
        addressing_style=addressing,
        checksum_calculation=profile.checksum_calculation,
    )
    return S3Driver(
        client,
        bucket=bucket,
        profile=profile,
        part_size=settings.part_size,
        max_concurrency=settings.max_concurrency,
    )


def _detect(client: Any, bucket: str) -> str:
    """Name the vendor from the ``Server`` header of a HEAD bucket answer, whatever its status."""
    from portacloud_aws.errors import map_s3_error

    client_error = importlib.import_module("botocore.exceptions").ClientError

    def once() -> Any:
        try:
            return client.head_bucket(Bucket=bucket)
        except client_error as exc:
            status = _http_status(exc)
            if status is None or (status != 429 and status < 500):
                # 403 and 404 answers carry the header too.
                return exc.response
            # A throttle or a 5xx (perhaps from a proxy in front of the server) says nothing
            # about the vendor: retried below rather than taken for the generic profile.
            raise map_s3_error(exc) or UnavailableError("S3 HeadBucket failed") from exc
        except Exception as exc:
            # A server that does not answer at all is UNAVAILABLE, never the generic profile.
            mapped = map_s3_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    # Opening a bucket is its own call path; this is its one retry owner.
    response = call_with_retry(RetryPolicy(), once)
    vendor = detect_vendor(_server_header(response))
    _log.debug("s3 endpoint %s identified as %s", client.meta.endpoint_url, vendor)
    return vendor


provider = S3Provider()

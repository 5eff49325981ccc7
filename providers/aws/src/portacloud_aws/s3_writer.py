"""Writes to S3: one PutObject, or a multipart upload once the object outgrows a part."""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from portacloud.checksums import CRC32C_METADATA_KEY, crc32c_hex, crc32c_to_base64
from portacloud.errors import (
    CancelledError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.storage.driver import WriteOptions
from portacloud.storage.models import ObjectInfo
from portacloud_aws.options import MAX_PART_SIZE, MAX_PARTS
from portacloud_aws.s3_responses import etag_of, quote_etag

if TYPE_CHECKING:
    from portacloud_aws.s3_driver import S3Driver

__all__ = ["S3Writer"]

_log = logging.getLogger("portacloud.s3")


class S3Writer:
    """One object being written: a single PutObject, or a multipart upload once it outgrows a part.

    Memory stays bounded: at most ``max_concurrency`` parts are in flight and one more is being
    filled. Every failure and every :meth:`abort` aborts the multipart upload, after the parts
    still in flight have finished, so no upload is left behind to be billed. The requests of a
    stream (which the portable Bucket cannot replay) are retried here, under the driver's
    policy: the one ``open_bucket`` was given.
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
            etag=quote_etag(etag),
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
            return {"IfMatch": quote_etag(self._options.if_match)}
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
            lambda: etag_of(self._client.put_object(**kwargs)),
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
            lambda: etag_of(self._client.complete_multipart_upload(**kwargs)),
            retry=self._retry,
            conditional=bool(self._conditions()),
        )
        self._upload_id = None  # completed: nothing is left to abort
        if self._native:
            return etag
        return self._driver.stamp_crc32c(
            self._key, etag, size=self._size, options=self._options, crc32c=crc32c
        )

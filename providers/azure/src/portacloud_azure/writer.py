"""Block-blob writes: one Put Blob, or staged blocks made visible by one Put Block List.

A body that fits in one block is one Put Blob. A larger one is staged block by block
(``max_concurrency`` uploads in flight, so at most ``(max_concurrency + 1) x block_size`` bytes
are buffered) and made visible by one Put Block List, which also sets the content type and the
metadata, the CRC32C included: it is known by then because every byte has been seen. Staged
blocks are invisible until that commit and the service garbage-collects uncommitted blocks
(after a week, or at the next commit of the blob), so an abort only has to stop.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from portacloud.errors import InvalidArgumentError, UnavailableError
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud.storage.driver import WriteOptions
from portacloud.storage.models import ObjectInfo
from portacloud_azure.errors import guarded, status_of, translate
from portacloud_azure.metadata import encode_metadata
from portacloud_azure.objects import (
    DEFAULT_CONTENT_TYPE,
    content_settings,
    etag,
    object_info,
    write_conditions,
)

__all__ = ["BlockWriter"]

_T = TypeVar("_T")

_MAX_BLOCKS = 50_000  # committed blocks per blob


class BlockWriter:
    """A block-blob write: one Put Blob, or staged blocks and one Put Block List."""

    def __init__(
        self,
        blob: Any,
        key: str,
        options: WriteOptions,
        *,
        block_size: int,
        max_concurrency: int,
        retry: RetryPolicy,
    ) -> None:
        """Start a write of ``key`` through the SDK's ``BlobClient`` ``blob``.

        Args:
            blob: The SDK client of the blob.
            key: The key, for errors.
            options: The portable write options.
            block_size: Bytes per staged block.
            max_concurrency: Blocks uploaded in parallel.
            retry: The policy of each block and of the commit of a streamed write.
        """
        self._key = key
        self._options = options
        self._blob = blob
        self._block_size = block_size
        self._max_concurrency = max_concurrency
        # Bytes given in one piece are replayed by the portable Bucket, which owns their
        # retries; only a stream's blocks are retried here (docs/decisions/0001-retries.md).
        self._retry = None if options.size_hint is not None else retry
        self._buffer = bytearray()
        self._size = 0
        self._upload_id = uuid.uuid4().hex
        self._block_ids: list[str] = []
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._futures: list[Future[None]] = []
        self._closed = False

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise InvalidArgumentError(
                f"{what} after the object was committed or aborted", resource=self._key
            )

    # -- staging

    def write(self, data: bytes) -> None:
        """Buffer ``data``, staging every block that fills up."""
        self._check_open("write")
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
                max_workers=self._max_concurrency, thread_name_prefix="portacloud-az"
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
            guarded(
                lambda: self._blob.stage_block(
                    block_id, block, length=len(block), validate_content=True
                )
            )

        self._attempt(once)

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
        """Make the object visible, its metadata (the CRC32C included) with it."""
        self._check_open("commit")
        # Metadata goes with the commit, after every byte was seen, so the CRC32C is known.
        metadata = encode_metadata(self._options.metadata, crc32c)
        settings = content_settings(self._options.content_type)
        try:
            if not self._block_ids:
                response = self._put_blob(metadata, settings)
            else:
                response = self._put_block_list(metadata, settings)
        finally:
            self._close()
        return object_info(
            self._key,
            size=self._size,
            etag=etag(response["etag"]),
            last_modified=response.get("last_modified"),
            content_type=self._options.content_type or DEFAULT_CONTENT_TYPE,
            raw_metadata=metadata,
        )

    def _put_blob(self, metadata: dict[str, str], settings: Any) -> Any:
        body = bytes(self._buffer)
        self._buffer = bytearray()
        return self._commit_once(
            lambda conditions: self._blob.upload_blob(
                body,
                blob_type="BlockBlob",
                length=len(body),
                overwrite=True,  # the conditions decide, not an SDK existence check
                metadata=metadata,
                content_settings=settings,
                max_concurrency=1,
                # Content-MD5: the service refuses a body damaged on the way.
                validate_content=True,
                **conditions,
            )
        )

    def _put_block_list(self, metadata: dict[str, str], settings: Any) -> Any:
        if self._buffer:
            self._stage(self._buffer)
            self._buffer = bytearray()
        self._wait_for_blocks()
        return self._commit_once(
            lambda conditions: self._blob.commit_block_list(
                list(self._block_ids), metadata=metadata, content_settings=settings, **conditions
            )
        )

    def _commit_once(self, send: Callable[[dict[str, Any]], Any]) -> Any:
        conditions = write_conditions(self._options)
        conditional = bool(conditions)

        def once() -> Any:
            try:
                response = send(conditions)
            except Exception as exc:
                error = translate(exc)
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

        return self._attempt(once)

    def _attempt(self, once: Callable[[], _T]) -> _T:
        # A block runs on a pool thread, outside the Bucket's retrying call: with the Bucket
        # owning the retries, one try whose error keeps its retryable flag for the Bucket.
        return once() if self._retry is None else call_with_retry(self._retry, once)

    def _close(self) -> None:
        self._closed = True
        self._buffer = bytearray()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Stop: uncommitted blocks are never visible and the service drops them on its own."""
        # Aborting only has to stop staging more and wait for the uploads in flight.
        self._close()


def _surely_not_applied(exc: BaseException) -> bool:
    """Whether a failed request certainly changed nothing on the service."""
    from azure.core.exceptions import ServiceRequestError

    if isinstance(exc, ServiceRequestError):
        return True  # the request was never sent
    # Throttling is answered before the request is processed.
    return status_of(exc) in (429, 503)

"""Writing one GCS object: a multipart request at commit, or a resumable session fed by chunks.

Up to one chunk is buffered; an object that fits (and is at most 8 MiB, the SDK's multipart
limit) is one multipart request at commit. Larger or longer streams open a resumable session on
the first full chunk and PUT each chunk as it fills; the last chunk is held back so that the
request that finishes the object is sent by ``commit``. ``abort`` DELETEs the session.

A stream moves ``chunk_size`` pieces (8 MiB by default: its memory bound). Bytes given whole are
in memory already, so they go in the SDK's own 100 MiB chunks: fewer requests, no more memory.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from portacloud.checksums import crc32c_to_base64
from portacloud.errors import (
    ChecksumMismatchError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    PortaCloudError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.retry import RetryPolicy
from portacloud.storage.driver import WriteOptions
from portacloud.storage.models import ObjectInfo
from portacloud_gcp.buffer import ChunkBuffer
from portacloud_gcp.client import TIMEOUT, http_error

if TYPE_CHECKING:
    from portacloud_gcp.storage import GCSDriver

__all__ = ["SINGLE_SHOT_MAX", "GCSWriter"]

SINGLE_SHOT_MAX = 8 * 1024 * 1024  # above this the SDK itself switches to resumable uploads
# The SDK's resumable chunk: bytes given whole are in memory already, so they go in chunks this
# large, as the SDK sends them (fewer requests); streams keep the 8 MiB default bound.
KNOWN_SIZE_CHUNK = 100 * 1024 * 1024
_RANGE_HEADER = re.compile(r"bytes=0-(\d+)")
# Bytes given up front are replayed whole by the portable layer, which owns their retries.
_NO_RETRY = RetryPolicy(attempts=1)


def _generation_condition(options: WriteOptions) -> int | None:
    """The ``ifGenerationMatch`` a write's options ask for, if any."""
    if options.if_none_match:
        return 0
    if options.if_match is None:
        return None
    etag = options.if_match
    if not etag.isdigit() or etag.startswith("0"):
        raise FailedPreconditionError(
            f"etag {etag!r} is not a GCS generation, so it matches no object here"
        )
    return int(etag)


class GCSWriter:
    """One upload: a multipart request at commit, or a resumable session fed chunk by chunk."""

    def __init__(self, driver: GCSDriver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._options = options
        self._generation = _generation_condition(options)
        self._content_type = options.content_type or "application/octet-stream"
        # Bytes given up front are replayed whole by the portable layer; a stream is not, so
        # only then does the writer retry the chunks it still holds.
        self._retry = driver.chunk_retry if options.size_hint is None else _NO_RETRY
        known = options.size_hint is not None
        self._chunk = max(driver.chunk_size, KNOWN_SIZE_CHUNK) if known else driver.chunk_size
        self._buffer = ChunkBuffer()
        self._session: str | None = None
        self._offset = 0  # bytes the session holds
        self._finished = False

    # ------------------------------------------------------------------ DriverWriter

    def write(self, data: bytes) -> None:
        if self._finished:
            raise InvalidArgumentError("write after the object was committed or aborted")
        self._buffer.append(bytes(data))
        chunk = self._chunk
        # Strictly more than a chunk: the last bytes must stay for commit's final request.
        while len(self._buffer) > chunk:
            if self._session is None:
                self._session = self._start_session()
            self._send(self._buffer.take(chunk), total=None, crc32c=None)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        if self._finished:
            raise InvalidArgumentError("commit after the object was committed or aborted")
        self._finished = True
        data = self._buffer.take(len(self._buffer))
        try:
            if self._session is None and len(data) <= SINGLE_SHOT_MAX:
                resource = self._single_shot(data, crc32c)
            else:
                if self._session is None:
                    self._session = self._start_session()
                resource = self._send(data, total=self._offset + len(data), crc32c=crc32c)
                if resource is None:
                    raise InternalError("the service did not finish the upload", resource=self._key)
                self._session = None  # finished: there is nothing left to abort
        except PortaCloudError as exc:
            raise _as_checksum_error(exc) from exc.__cause__
        return self._driver.verified(resource, crc32c)

    def abort(self) -> None:
        self._finished = True
        self._buffer.clear()
        session, self._session = self._session, None
        if session is None:
            return
        try:
            self._driver.http.delete(session, timeout=TIMEOUT)
        except Exception as exc:
            # Abort runs while another error propagates; a session left behind expires on its
            # own (GCS drops it after a week) and never becomes an object.
            if self._driver.map_error(exc) is None:
                raise

    # ------------------------------------------------------------------ requests

    def _blob(self) -> Any:
        blob = self._driver.bucket.blob(self._key)
        blob.content_type = self._content_type
        if self._options.metadata:
            blob.metadata = dict(self._options.metadata)
        return blob

    def _single_shot(self, data: bytes, crc32c: str) -> Mapping[str, Any]:
        def once() -> Mapping[str, Any]:
            blob = self._blob()
            blob.crc32c = crc32c_to_base64(crc32c)  # GCS refuses the upload on a mismatch
            blob.upload_from_file(
                io.BytesIO(data),
                size=len(data),
                content_type=self._content_type,
                if_generation_match=self._generation,
                checksum=None,
                retry=None,
                timeout=TIMEOUT,
            )
            resource: Mapping[str, Any] = blob._properties
            return resource

        return self._driver.call(self._retry, once, conditional=self._generation is not None)

    def _start_session(self) -> str:
        if self._generation is not None and not self._driver.profile.resumable_preconditions:
            raise UnsupportedError(
                f"{self._driver.profile.name} ignores conditions on resumable uploads, so a "
                f"conditional write that needs one (over {SINGLE_SHOT_MAX} bytes, or streamed "
                f"past one chunk of {self._chunk} bytes) cannot be atomic here",
                resource=self._key,
            )

        def once() -> str:
            url: str = self._blob().create_resumable_upload_session(
                content_type=self._content_type,
                if_generation_match=self._generation,
                checksum=None,
                retry=None,
                timeout=TIMEOUT,
            )
            return url

        return self._driver.call(self._retry, once)

    def _send(self, payload: bytes, *, total: int | None, crc32c: str | None) -> Any:
        """PUT ``payload`` at the session's offset; the object resource once it is finished."""
        start, end = self._offset, self._offset + len(payload)
        first = True

        can_query = self._driver.profile.resumable_status_query

        def once() -> Any:
            nonlocal first
            if not first and can_query:
                # The last try failed somewhere: ask the session what it holds.
                held = self._query()
                if not isinstance(held, int):
                    return held
                self._offset = held
            first = False
            if not start <= self._offset <= end:
                raise UnavailableError(
                    f"the upload session holds {self._offset} bytes, outside the chunk "
                    f"[{start}, {end}) this writer still has",
                    resource=self._key,
                    retryable=False,
                )
            while True:
                before = self._offset
                if total is None and before >= end:
                    return None  # the session holds the whole chunk
                resource = self._put(payload[before - start :], before, total, crc32c)
                if resource is not None:
                    return resource
                if self._offset <= before:
                    raise UnavailableError(
                        "the upload session did not take the chunk", resource=self._key
                    )

        if can_query or self._options.size_hint is not None:
            # Bytes given whole are replayed by the portable Bucket with a new session.
            return self._driver.call(self._retry, once)
        # Without a status query nothing tells what a broken request left in the session, so
        # only a refusal (the request was not applied) is resent, from the same offset.
        return self._driver.call(self._retry, partial(self._driver.refusals_only, once))

    def _put(
        self, body: bytes, offset: int, total: int | None, crc32c: str | None
    ) -> Mapping[str, Any] | None:
        if body:
            size = "*" if total is None else str(total)
            content_range = f"bytes {offset}-{offset + len(body) - 1}/{size}"
        else:
            content_range = f"bytes */{total}"
        headers = {"Content-Range": content_range, "Content-Type": self._content_type}
        if total is not None and crc32c is not None:
            headers["X-Goog-Hash"] = f"crc32c={crc32c_to_base64(crc32c)}"
        response = self._driver.http.put(self._session, data=body, headers=headers, timeout=TIMEOUT)
        if response.status_code == 308:
            self._offset = _held_bytes(response)
            return None
        if response.status_code in (200, 201):
            resource: Mapping[str, Any] = response.json()
            return resource
        raise http_error(response)

    def _query(self) -> int | Mapping[str, Any]:
        """How many bytes the session holds, or the object resource if it is finished."""
        response = self._driver.http.put(
            self._session, data=b"", headers={"Content-Range": "bytes */*"}, timeout=TIMEOUT
        )
        if response.status_code == 308:
            return _held_bytes(response)
        if response.status_code in (200, 201):
            resource: Mapping[str, Any] = response.json()
            return resource
        raise http_error(response)


def _held_bytes(response: Any) -> int:
    """Bytes a resumable session holds, from the ``Range`` header of a 308."""
    match = _RANGE_HEADER.fullmatch(str(response.headers.get("Range", "")).strip())
    return int(match.group(1)) + 1 if match else 0


def _as_checksum_error(exc: PortaCloudError) -> PortaCloudError:
    """GCS refuses an upload whose declared CRC32C differs with a 400 that names it."""
    if isinstance(exc, InvalidArgumentError) and "crc32c" in exc.message.lower():
        # Retryable like every checksum failure: bytes held in memory can be sent again.
        return ChecksumMismatchError(
            f"the service refused the upload: {exc.message}",
            resource=exc.resource,
            retryable=True,
        )
    return exc

"""Reads: one media GET each, described by the headers of its own answer.

A GCS download answers with the object's generation (``x-goog-generation``), its CRC32C
(``x-goog-hash``), size, content type, last-modified time and user metadata
(``x-goog-meta-*``), so a read needs no metadata request first; google-cloud-storage's own
download reads the same headers. Reads stream the raw stored bytes (no decompressive
transcoding) in 1 MiB chunks.

Only a reopen (a stream that broke off, or a seek) pins a generation: it continues the version
the open described, and fails with FAILED_PRECONDITION if that version is gone rather than mix
bytes of two versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from portacloud.checksums import crc32c_from_base64
from portacloud.errors import FailedPreconditionError, InternalError, UnavailableError
from portacloud.providerkit import (
    CHUNK_SIZE,
    ChunkStream,
    EmptyStream,
    ObjectInfo,
    range_header,
    range_total,
)
from portacloud_gcp.client import TIMEOUT, http_error

if TYPE_CHECKING:
    from portacloud_gcp.storage import GCSDriver

__all__ = ["read_object", "read_version", "user_metadata"]

_META = "x-goog-meta-"
_RESERVED_METADATA_PREFIX = "portacloud-"


def user_metadata(pairs: Iterable[tuple[object, object]]) -> dict[str, str]:
    """User metadata with names lower-cased, this SDK's reserved names and non-text left out."""
    return {
        str(name).lower(): value
        for name, value in pairs
        if isinstance(value, str) and not str(name).lower().startswith(_RESERVED_METADATA_PREFIX)
    }


def read_object(
    driver: GCSDriver, key: str, *, start: int, end: int | None
) -> tuple[ObjectInfo, ChunkStream | EmptyStream]:
    """Bytes ``[start, end)`` of the live object (a negative start: the last ``-start``)."""
    if end is not None and start >= 0 and end <= start:
        return driver.stat(key), EmptyStream()
    response = _get(driver, key, None, range_header(start, end))
    if response.status_code == 416:  # a start at or past the end: no bytes
        response.close()
        return driver.stat(key), EmptyStream()
    try:
        info = info_from_headers(key, response)
        if response.status_code == 200 and not _whole_asked(start, end, info.size):
            raise InternalError("the service ignored the Range of a read", resource=key)
    except BaseException:
        response.close()
        raise
    return info, _stream(response)


def read_version(driver: GCSDriver, key: str, *, start: int, etag: str) -> ChunkStream:
    """Bytes from ``start`` to the end of the generation ``etag`` names (a reopen)."""
    if not etag.isdigit():
        raise FailedPreconditionError(f"etag {etag!r} is not a GCS generation", resource=key)
    response = _get(driver, key, etag, range_header(start, None))
    if response.status_code == 404:
        response.close()
        raise FailedPreconditionError(
            f"generation {etag} is gone: the object was replaced or deleted while it was read",
            resource=key,
        )
    if response.status_code == 200 and start:
        response.close()
        raise InternalError("the service ignored the Range of a read", resource=key)
    return _stream(response)


def _get(driver: GCSDriver, key: str, generation: str | None, byte_range: str | None) -> Any:
    """One media GET; a failed answer (other than 404 and 416) raised as the SDK's error."""
    headers = {"Range": byte_range} if byte_range else {}
    response = driver.http.get(
        driver.media_url(key, generation), headers=headers, stream=True, timeout=TIMEOUT
    )
    if response.status_code not in (200, 206, 404, 416) or (
        response.status_code == 404 and generation is None
    ):
        response.close()
        raise http_error(response)
    return response


def _whole_asked(start: int, end: int | None, size: int) -> bool:
    """Whether a read of ``[start, end)`` covers the whole ``size``-byte object."""
    from_first_byte = start == 0 or (start < 0 and -start >= size)
    return from_first_byte and (end is None or end >= size)


def _stream(response: Any) -> ChunkStream:
    # The raw stored bytes: no decompressive transcoding.
    chunks = response.raw.stream(CHUNK_SIZE, decode_content=False)
    return ChunkStream(chunks, on_close=response.close)


def info_from_headers(key: str, response: Any) -> ObjectInfo:
    """The object a download answer describes.

    Raises:
        UnavailableError: The generation, CRC32C or size is missing: the connection closed
            inside the header block, whose missing lines would otherwise go unnoticed.
    """
    headers: Mapping[str, str] = response.headers
    generation = headers.get("x-goog-generation", "")
    crc = _crc32c(headers.get("x-goog-hash", ""))
    if response.status_code == 206:
        size = range_total(headers.get("Content-Range"))
    else:
        length = headers.get("x-goog-stored-content-length") or headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
    if not generation.isdigit() or crc is None or size is None:
        raise UnavailableError(
            "the answer was cut short: it lacks the generation, CRC32C or size of the object",
            resource=key,
        )
    return ObjectInfo(
        key=key,
        size=size,
        etag=generation,
        last_modified=_http_date(headers.get("Last-Modified")),
        content_type=headers.get("Content-Type") or None,
        metadata=user_metadata(
            (name[len(_META) :], _header_text(value))
            for name, value in headers.items()
            if name.lower().startswith(_META)
        ),
        checksums={"crc32c": crc},
    )


def _crc32c(x_goog_hash: str) -> str | None:
    """The hex CRC32C in ``x-goog-hash`` (``crc32c=...,md5=...``; repeated headers joined)."""
    for part in x_goog_hash.split(","):
        name, _, value = part.strip().partition("=")
        if name == "crc32c" and value:
            return crc32c_from_base64(value)
    return None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _header_text(value: str) -> str:
    """A header value as written: http.client decodes header bytes as Latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value

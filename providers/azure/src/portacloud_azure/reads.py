"""Reads: one plain Get Blob per call, its body streamed as it arrives (bounded memory).

Read with one Get Blob rather than the SDK's ``StorageStreamDownloader``: the downloader
re-sends a request whose body broke off, up to three times with a fixed one-second sleep,
inside the portable layer's own retries (docs/decisions/0001-retries.md).
"""

from __future__ import annotations

from typing import Any

from portacloud.errors import UnavailableError
from portacloud.providerkit import ChunkStream, EmptyStream
from portacloud.storage.models import ObjectInfo
from portacloud_azure.errors import status_of
from portacloud_azure.objects import etag, info_from_props

__all__ = ["read_blob"]


def _get_blob(blob: Any, byte_range: str | None, *, if_match: str | None = None) -> Any:
    """One Get Blob request: ``(BlobProperties, body generator)``, the body not yet read.

    The SDK's public ``download_blob`` retries broken bodies itself, so this calls the
    generated operation that the downloader calls, once.
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


def _stream(body: Any) -> ChunkStream:
    def release() -> None:
        # Returns the connection (or drops it, mid-body) whether or not it was read out.
        body.response.internal_response.close()

    return ChunkStream(body, on_close=release)


def _total_size(content_range: str | None, fallback: int) -> int:
    """The object size from a ``bytes a-b/total`` Content-Range."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return fallback


def _read_tail(blob: Any, key: str, start: int) -> tuple[ObjectInfo, ChunkStream | EmptyStream]:
    # Blob Storage has no suffix range, so size the object first and pin the ranged read to
    # that version's etag.
    props = blob.get_blob_properties()
    info = info_from_props(key, props)
    begin = max(0, info.size + start)
    if begin >= info.size:
        return info, EmptyStream()
    try:
        _, body = _get_blob(blob, f"bytes={begin}-", if_match=etag(props.etag))
    except Exception as exc:
        if status_of(exc) == 412:
            raise UnavailableError(
                "the object was replaced while it was being read", retryable=True
            ) from exc
        raise
    return info, _stream(body)


def read_blob(
    blob: Any, key: str, *, start: int, end: int | None
) -> tuple[ObjectInfo, ChunkStream | EmptyStream]:
    """Bytes ``start`` to ``end`` (exclusive; a negative start counts from the end) of a blob.

    Args:
        blob: The SDK's ``BlobClient``.
        key: The key, for the description and errors.
        start: The first byte, or minus the length of a suffix.
        end: One past the last byte, or ``None`` for the end of the object.
    """
    if start < 0:
        return _read_tail(blob, key, start)
    if start == 0 and end is None:
        byte_range = None
    elif end is None:
        byte_range = f"bytes={start}-"
    else:
        byte_range = f"bytes={start}-{end - 1}"
    try:
        props, body = _get_blob(blob, byte_range)
    except Exception as exc:
        if status_of(exc) != 416:
            raise
        # A start at or past the end: no bytes, but the caller still gets the object.
        return info_from_props(key, blob.get_blob_properties()), EmptyStream()
    stream = _stream(body)
    try:
        info_from_props(key, props)  # checks the answer arrived whole
        size = _total_size(getattr(props, "content_range", None), props.size)
        return info_from_props(key, props, size=size), stream
    except BaseException:
        stream.close()
        raise

"""Describing blobs and conditioning writes: what reads, writes and listings share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portacloud.errors import UnavailableError
from portacloud.storage.driver import WriteOptions
from portacloud.storage.models import ObjectInfo
from portacloud_azure.metadata import decode_metadata

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "content_settings",
    "etag",
    "info_from_props",
    "object_info",
    "write_conditions",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"  # what the service records without one


def etag(value: object) -> str:
    """An etag in the one form this driver returns: quoted, as the ETag header sends it.

    Listings carry etags unquoted (``<Etag>0x8D...</Etag>``) while heads, reads and writes
    answer ``"0x8D..."``: without one form, a listed etag would never equal a head's.
    """
    text = str(value or "").strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return f'"{text}"' if text else ""


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


def info_from_props(key: str, props: Any, *, size: int | None = None) -> ObjectInfo:
    """Describe an object from the SDK's ``BlobProperties`` (or a listed ``BlobProperties``).

    Raises:
        UnavailableError: the answer's header block was cut short.
    """
    if props.size is None or not props.etag:
        # The service always sends both: the header block was cut short (a body that never
        # came would otherwise read as an empty object).
        raise UnavailableError(
            "the answer was cut short: it has no Content-Length or ETag", resource=key
        )
    settings = getattr(props, "content_settings", None)
    return object_info(
        key,
        size=props.size if size is None else size,
        etag=etag(props.etag),
        last_modified=props.last_modified,
        content_type=getattr(settings, "content_type", None),
        raw_metadata=props.metadata,
    )


def content_settings(content_type: str | None) -> Any:
    """The SDK's ``ContentSettings`` for a write."""
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type=content_type) if content_type else None


def write_conditions(options: WriteOptions) -> dict[str, Any]:
    """``If-None-Match: *`` or ``If-Match: etag`` keyword arguments for a write."""
    from azure.core import MatchConditions

    if options.if_none_match:
        return {"match_condition": MatchConditions.IfMissing}
    if options.if_match is not None:
        return {"etag": options.if_match, "match_condition": MatchConditions.IfNotModified}
    return {}

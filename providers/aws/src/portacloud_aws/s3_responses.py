"""Reading S3 answers: etags, lengths, ranges, checksums and object descriptions.

S3-compatible servers differ in small ways (SeaweedFS omits the quotes around etags, a
connection cut inside the headers leaves some out): everything the driver takes from an answer
goes through here, in one form.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

from portacloud.checksums import CRC32C_METADATA_KEY, crc32c_from_base64
from portacloud.errors import UnavailableError
from portacloud.storage.models import ObjectInfo
from portacloud_aws.boto import utc

__all__ = [
    "bucket_region",
    "content_length",
    "etag_of",
    "object_info",
    "quote_etag",
    "range_header",
    "server_header",
    "stored_metadata",
    "total_size",
]

_HEX8 = re.compile(r"^[0-9a-f]{8}$")


def quote_etag(etag: object) -> str:
    """Etags in one form everywhere: quoted, as S3 sends them (SeaweedFS omits the quotes)."""
    text = str(etag or "").strip()
    if text.startswith("W/"):
        text = text[2:]
    return f'"{text.strip(chr(34))}"' if text else ""


def _valid_crc(value: object) -> str | None:
    if isinstance(value, str) and _HEX8.match(value.strip().lower()):
        return value.strip().lower()
    return None


def server_header(response: object) -> str | None:
    """The ``Server`` header of an answer (or of a ClientError's response)."""
    if not isinstance(response, Mapping):
        return None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    server = headers.get("server") if isinstance(headers, Mapping) else None
    return str(server) if server else None


def content_length(response: Mapping[str, Any]) -> int:
    """The Content-Length of a GET or HEAD answer, which S3 always sends.

    A connection closed inside the header block still parses (HTTP/1.1 clients take the end
    of the stream as the end of the headers), minus the headers that did not arrive; without
    Content-Length, a body that never came would read as an empty object.
    """
    length = response.get("ContentLength")
    if not isinstance(length, int):
        raise UnavailableError("the answer was cut short: it has no Content-Length")
    return length


def etag_of(response: Mapping[str, Any]) -> str:
    """The ETag of a write's answer, which S3 always sends (see :func:`content_length`)."""
    etag = str(response.get("ETag") or "")
    if not etag:
        raise UnavailableError("the answer to the write was cut short: it has no ETag")
    return etag


def range_header(start: int, end: int | None) -> str | None:
    """The ``Range`` of a read from ``start`` to ``end`` (exclusive); ``None``: everything."""
    if start < 0:
        return f"bytes={start}"  # a suffix: the last -start bytes
    if end is None:
        return None if start == 0 else f"bytes={start}-"
    return f"bytes={start}-{end - 1}"


def total_size(content_range: object, fallback: int) -> int:
    """The object's size from a ranged answer's ``Content-Range`` (``bytes 0-9/12345``)."""
    if isinstance(content_range, str) and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return fallback


def stored_metadata(response: Mapping[str, Any]) -> dict[str, str]:
    """The user metadata of a HEAD or GET answer, names lower-cased, our CRC32C included."""
    return {str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()}


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


def object_info(
    key: str, response: Mapping[str, Any], *, native_crc32c: bool, size: int | None = None
) -> ObjectInfo:
    """Describe an object from its HEAD or GET answer.

    Args:
        key: The object's key.
        response: What boto3 returned.
        native_crc32c: The server keeps full-object CRC32Cs: take the answer's when the
            metadata holds none.
        size: The object's size when the answer is a range of it.
    """
    metadata = stored_metadata(response)
    crc = _valid_crc(metadata.pop(CRC32C_METADATA_KEY, None))
    if crc is None and native_crc32c:
        crc = _native_crc(response)
    return ObjectInfo(
        key=key,
        size=content_length(response) if size is None else size,
        etag=quote_etag(response.get("ETag")),
        last_modified=utc(response.get("LastModified")),
        content_type=response.get("ContentType") or None,
        metadata=metadata,
        checksums={"crc32c": crc} if crc else {},
    )


# GetBucketLocation's legacy answers: no constraint is us-east-1, and ``EU`` is the oldest
# name of eu-west-1.
_LEGACY_LOCATIONS = {"": "us-east-1", "EU": "eu-west-1"}


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region from GetBucketLocation, lower-case."""
    constraint = client.get_bucket_location(Bucket=bucket).get("LocationConstraint") or ""
    return _LEGACY_LOCATIONS.get(constraint, constraint).lower()

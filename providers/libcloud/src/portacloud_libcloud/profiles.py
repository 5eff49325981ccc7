"""What each libcloud storage driver can do here, as data: one profile per driver (and vendor).

Common to every driver, because libcloud's storage API has no way to say them:

- no conditional writes (``upload_object`` takes no If-None-Match/If-Match) and no server-side
  copy (there is no copy call), so those capabilities are false everywhere;
- listings have no marker and no delimiter: every page lists the prefix afresh and sorts it,
  so pages, ``start_after`` and delimiters are exact but a page costs a full listing of the
  prefix;
- libcloud's HTTP layer collapses ``//`` in request paths and URL parsing drops ``.``/``..``
  segments, so keys with empty or dot segments are refused up front;
- the portable CRC32C is user metadata, sent with the upload, never derived from an ETag.

The ``s3`` profiles were measured against SeaweedFS and the ``azure_blobs`` one against
Azurite (tests/integration/test_libcloud_storage.py and the conformance suite); the AWS profile
follows the S3 documentation; any other driver gets the conservative default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from portacloud.storage.capabilities import StorageCapabilities
from portacloud_libcloud.metadata import AZURE_CODEC, PLAIN_CODEC, MetadataCodec

__all__ = ["DEFAULT_PROFILE", "PROFILES", "S3_VENDORS", "StorageProfile", "s3_vendor"]

MiB = 1024 * 1024

_COMMON_NOTES = (
    "libcloud has no conditional upload and no copy: write_with_if_none_match, "
    "write_with_if_match and server_side_copy are false",
    "a write is spooled to a local temporary file and uploaded when committed, because "
    "libcloud sends the metadata (the CRC32C among it) before the first byte",
    "libcloud lists without marker or delimiter: each page lists the whole prefix and sorts "
    "it, so pagination is exact but costs a full listing per page",
    "libcloud collapses '//' and URL parsing drops '.' and '..', so such keys are refused",
)
_LISTING_NOTE = (
    "S3 listings carry size, etag and time only: head an object for its metadata and CRC32C"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageProfile:
    """How the driver uses one libcloud storage driver.

    Attributes:
        name: Profile name (``s3``, ``s3/seaweedfs``, ``azure_blobs``, ``default``).
        capabilities: What portable callers may rely on.
        codec: How metadata names are stored.
        stream_uploads: ``upload_object_via_stream`` sends bounded parts (S3 multipart, Azure
            blocks) instead of reading the whole stream into memory first.
        single_put_max: Objects up to this size go up in one ``upload_object`` request.
        listing_has_metadata: Listings carry user metadata and content type (Azure).
        presign: ``get_object_cdn_url(ex_method=...)`` signs GET and PUT URLs.
    """

    name: str
    capabilities: StorageCapabilities
    codec: MetadataCodec = PLAIN_CODEC
    stream_uploads: bool = False
    single_put_max: int = 8 * MiB
    listing_has_metadata: bool = False
    presign: bool = False


def _caps(*, notes: tuple[str, ...] = (), **overrides: object) -> StorageCapabilities:
    base: dict[str, object] = {
        "write_with_if_none_match": False,
        "write_with_if_match": False,
        "server_side_copy": False,
        "copy_with_if_none_match": False,
        "key_empty_segments": False,
        "key_dot_segments": False,
        "notes": (*_COMMON_NOTES, *notes),
    }
    return StorageCapabilities.model_validate(base | overrides)


def _presigning(name: str, *notes: str, **overrides: object) -> StorageProfile:
    """A profile of a driver that streams uploads in parts and signs GET and PUT URLs."""
    caps = _caps(presign_read=True, presign_write=True, notes=notes, **overrides)
    return StorageProfile(name=name, capabilities=caps, stream_uploads=True, presign=True)


#: S3 through libcloud's S3 driver, by the vendor behind the endpoint (``Server`` header).
S3_VENDORS: Mapping[str, StorageProfile] = {
    "aws": _presigning("s3", _LISTING_NOTE),
    "seaweedfs": _presigning(
        "s3/seaweedfs",
        "SeaweedFS stores '\\' in a key as '/' (key_backslash=False) and limits a key segment "
        "to 255 bytes (the filer's file-name limit)",
        "SeaweedFS fails a multipart upload (objects over 8 MiB) whose key is also a prefix of "
        "other keys; single-request uploads of such keys work",
        _LISTING_NOTE,
        key_backslash=False,
        key_max_segment_bytes=255,
    ),
    "generic": _presigning(
        "s3/generic",
        "unrecognised S3-compatible server: key rules are conservative and signed URLs may not "
        "be checked",
        _LISTING_NOTE,
        key_backslash=False,
        key_control_chars=False,
        signed_url_checks_expiry=False,
    ),
}

#: Per libcloud storage driver name (``libcloud+<name>://``).
PROFILES: Mapping[str, StorageProfile] = {
    "s3": S3_VENDORS["aws"],
    "azure_blobs": dataclasses.replace(
        _presigning(
            "azure_blobs",
            "Azure turns '\\' in a blob name into '/' (key_backslash=False)",
            "metadata names are escaped into C# identifiers the same way as az:// does",
            "Azurite: accounts are path-style (http://HOST:PORT/ACCOUNT/CONTAINER/KEY)",
            key_backslash=False,
        ),
        codec=AZURE_CODEC,
        single_put_max=4 * MiB,
        listing_has_metadata=True,
    ),
}

#: Any other libcloud storage driver: nothing beyond the portable basics is promised.
DEFAULT_PROFILE = StorageProfile(
    name="default",
    capabilities=_caps(
        key_backslash=False,
        key_control_chars=False,
        bounded_memory_streaming=False,
        notes=(
            "driver not profiled by portacloud: key rules are conservative, and uploads and "
            "downloads may hold an object in memory depending on the driver",
        ),
    ),
)

_SERVER_SIGNATURES = (
    ("seaweedfs", "seaweedfs"),
    ("amazons3", "aws"),
)


def s3_vendor(server_header: str | None, *, custom_host: bool) -> str:
    """The S3 vendor profile for a ``Server`` header; a custom host without one is generic."""
    lowered = (server_header or "").lower()
    for needle, vendor in _SERVER_SIGNATURES:
        if needle in lowered:
            return vendor
    return "generic" if custom_host else "aws"

"""What each S3 implementation can do: one profile per vendor, capabilities as data.

Profiles for SeaweedFS and moto were measured against the servers the tests start
(``scripts/servers/``); the AWS profile follows the S3 documentation; MinIO, R2 and Ceph follow
their documentation and are not exercised by this repository's tests, which their notes say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from portacloud.storage.capabilities import StorageCapabilities

__all__ = ["VENDORS", "VendorProfile", "detect_vendor"]

_LISTING_NOTE = (
    "listings carry size, etag and time only (S3 ListObjectsV2 returns no content type, "
    "metadata or checksum): head an object for its CRC32C"
)
_ETAG_NOTE = (
    "the etag of a single-part object is the MD5 of its bytes, so rewriting identical bytes "
    "keeps the etag"
)

_CONDITIONAL_NOTE = (
    "CompleteMultipartUpload checks conditions without a lock, so a conditional write must "
    "fit one PutObject: bytes up to 5 GiB, or a stream of at most part_size bytes"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorProfile:
    """How the driver talks to one S3 implementation.

    Attributes:
        name: The vendor's short name, as the ``vendor`` option spells it.
        capabilities: What portable callers may rely on.
        native_crc32c: The server keeps a full-object CRC32C (``ChecksumType=FULL_OBJECT``) for
            multipart uploads and validates the one sent at completion. Where it does not, the
            CRC32C of a multipart object is stamped into its metadata by a conditional
            metadata-only self-copy after completion.
        atomic_conditional_complete: ``CompleteMultipartUpload`` checks ``If-None-Match`` and
            ``If-Match`` atomically. Where it does not (it checks, then writes, so two racers
            can both win), a conditional write must be one PutObject: in-memory bytes up to
            5 GiB are sent whole, and a conditional stream that outgrows one part is refused
            with UNSUPPORTED rather than made non-atomic.
        copy_checks_source_if_match: ``CopyObject``/``UploadPartCopy`` honour
            ``x-amz-copy-source-if-match``.
        checksum_calculation: botocore's ``request_checksum_calculation``: ``when_supported``
            sends a CRC with every upload; ``when_required`` only where S3 demands one, for
            servers that do not understand the trailing-checksum encoding.
        default_region: Signing region when neither the options nor the AWS configuration
            name one.
    """

    name: str
    capabilities: StorageCapabilities
    native_crc32c: bool = False
    atomic_conditional_complete: bool = False
    copy_checks_source_if_match: bool = True
    checksum_calculation: Literal["when_supported", "when_required"] = "when_required"
    default_region: str = "us-east-1"


def _caps(*notes: str, **departures: Any) -> StorageCapabilities:
    """What every S3 server here offers (presigned reads and writes, ListObjectVersions and
    ListMultipartUploads, the listing and etag notes), with the vendor's ``departures`` and
    ``notes`` first."""
    # Every S3 server here answers a single-request write with the MD5 of its bytes.
    offered: dict[str, Any] = {"etag_is_md5": True, "versions": True, "list_uploads": True}
    return StorageCapabilities(
        presign_read=True,
        presign_write=True,
        notes=(*notes, _LISTING_NOTE, _ETAG_NOTE),
        **{**offered, **departures},
    )


def _untested(source: str) -> str:
    return f"profile from {source}; not exercised by this repository's tests"


VENDORS: Mapping[str, VendorProfile] = {
    "aws": VendorProfile(
        name="aws",
        capabilities=_caps(location=True),
        native_crc32c=True,
        atomic_conditional_complete=True,
        checksum_calculation="when_supported",
    ),
    "seaweedfs": VendorProfile(
        name="seaweedfs",
        capabilities=_caps(
            "keys are file paths: SeaweedFS collapses '//' and strips a leading '/' "
            "(key_empty_segments=False) and refuses '.' and '..' segments "
            "(key_dot_segments=False)",
            "SeaweedFS stores '\\' in a key as '/' (a\\b is listed as a/b; key_backslash=False)",
            "the last segment of a key is limited to 255 bytes (the filer's file-name limit); "
            "the capability states it for every segment",
            "listings come in file-tree order, not UTF-8 byte order: 'a/b' is listed before "
            "'a-b', so pages and start_after follow that order",
            "a delimiter listing keeps naming a directory after its last object is deleted "
            "(list_prefixes_exact=False)",
            _CONDITIONAL_NOTE,
            "SeaweedFS answers GetBucketLocation with no constraint whatever region a bucket "
            "was created for, so it cannot tell where a bucket is (location=False)",
            key_empty_segments=False,
            key_dot_segments=False,
            key_max_segment_bytes=255,
            key_backslash=False,
            list_sorted=False,
            list_prefixes_exact=False,
        ),
        native_crc32c=True,
        checksum_calculation="when_supported",
    ),
    "moto": VendorProfile(
        name="moto",
        capabilities=_caps(
            "moto checks no credentials and no signed-URL signature or expiry "
            "(signed_url_checks_expiry=False)",
            "moto checks If-None-Match on PutObject and then stores without a lock, so racing "
            "create-only writers can both win (cross_process_atomic=False)",
            "moto ignores If-None-Match on CopyObject (copy_with_if_none_match=False)",
            "moto ignores If-Match on CompleteMultipartUpload",
            _CONDITIONAL_NOTE,
            "moto computes CRC32C checksums as CRC32 unless the crc32c package is installed, "
            "so the portable CRC32C is always kept in metadata",
            "moto answers 404 for keys that contain a newline (key_control_chars=False; tab "
            "and CR work)",
            copy_with_if_none_match=False,
            signed_url_checks_expiry=False,
            key_control_chars=False,
            cross_process_atomic=False,
            location=True,
        ),
        copy_checks_source_if_match=False,
        checksum_calculation="when_supported",
    ),
    "minio": VendorProfile(
        name="minio",
        capabilities=_caps(
            "keys are file paths: MinIO refuses empty, '.' and '..' segments, and 'a/b' "
            "cannot be an object while 'a/b/c' is",
            _untested("MinIO's documentation"),
            copy_with_if_none_match=False,
            key_empty_segments=False,
            key_dot_segments=False,
            key_file_and_prefix=False,
        ),
    ),
    "r2": VendorProfile(
        name="r2",
        capabilities=_caps(
            _untested("Cloudflare R2's documentation"),
            "R2 keeps one version per key and has no ListObjectVersions (versions=False)",
            copy_with_if_none_match=False,
            versions=False,
        ),
        default_region="auto",
    ),
    "ceph": VendorProfile(
        name="ceph",
        capabilities=_caps(
            _untested("the Ceph Object Gateway documentation"), copy_with_if_none_match=False
        ),
    ),
    "generic": VendorProfile(
        name="generic",
        capabilities=_caps(
            "unrecognised S3-compatible server: conditional writes are off because some "
            "servers ignore the headers silently; pass vendor=... to use a known profile",
            "object versions are not listed (versions=False): not every server has "
            "ListObjectVersions",
            write_with_if_none_match=False,
            write_with_if_match=False,
            copy_with_if_none_match=False,
            signed_url_checks_expiry=False,
            versions=False,
        ),
        copy_checks_source_if_match=False,
    ),
}

# Substrings of the ``Server`` response header, lower-cased, and the vendor they identify.
_SERVER_SIGNATURES: tuple[tuple[str, str], ...] = (
    ("seaweedfs", "seaweedfs"),
    ("minio", "minio"),
    ("cloudflare", "r2"),
    ("ceph", "ceph"),
    ("radosgw", "ceph"),
    ("amazons3", "aws"),
    # moto_server runs on werkzeug; no other S3 server this driver knows does.
    ("werkzeug", "moto"),
    ("moto", "moto"),
)


def detect_vendor(server_header: str | None) -> str:
    """Name the vendor behind a ``Server`` response header, or ``"generic"``."""
    if not server_header:
        return "generic"
    lowered = server_header.lower()
    for needle, vendor in _SERVER_SIGNATURES:
        if needle in lowered:
            return vendor
    return "generic"

"""Server-side copies: CopyObject, UploadPartCopy above 5 GiB, and the CRC32C stamp.

Every copy is pinned to the source's etag (``x-amz-copy-source-if-match``), so a source
replaced mid-copy is never half copied. On servers without native full-object CRC32Cs, a
multipart write's CRC32C is added after completion by a metadata-only copy of the object onto
itself (:func:`stamp_crc32c`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from portacloud.checksums import CRC32C_METADATA_KEY
from portacloud.errors import (
    FailedPreconditionError,
    NotFoundError,
    PortaCloudError,
    UnavailableError,
)
from portacloud.storage.driver import WriteOptions
from portacloud.storage.models import ObjectInfo
from portacloud_aws.boto import http_status, utc
from portacloud_aws.options import MAX_PARTS, MAX_SINGLE_COPY, MIN_PART_SIZE, GiB
from portacloud_aws.s3_responses import quote_etag, stored_metadata

if TYPE_CHECKING:
    from portacloud_aws.s3_driver import S3Driver

__all__ = ["copy_object", "multipart_copy", "stamp_crc32c"]

_log = logging.getLogger("portacloud.s3")
_COPY_PART_SIZE = 1 * GiB
# Stored headers a MetadataDirective=REPLACE copy would drop unless sent again.
_REPLAYED_HEADERS = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
)


def _copy_part_size(size: int) -> int:
    wanted = max(math.ceil(size / MAX_PARTS), min(_COPY_PART_SIZE, MAX_SINGLE_COPY))
    return max(MIN_PART_SIZE, wanted)


def _copy_request(
    bucket: str,
    src_key: str,
    dst_key: str,
    source_etag: str,
    metadata: Mapping[str, str],
    *,
    src_bucket: str | None = None,
) -> dict[str, Any]:
    """A CopyObject pinned to ``source_etag`` that replaces the metadata with ``metadata``."""
    return {
        "Bucket": bucket,
        "Key": dst_key,
        "CopySource": {"Bucket": src_bucket or bucket, "Key": src_key},
        "CopySourceIfMatch": source_etag,
        "MetadataDirective": "REPLACE",
        "Metadata": dict(metadata),
    }


def copy_object(
    driver: S3Driver,
    src_key: str,
    dst_key: str,
    *,
    if_none_match: bool,
    origin: S3Driver | None = None,
) -> ObjectInfo:
    """CopyObject (UploadPartCopy above 5 GiB), pinned to the source's current etag.

    ``driver`` sends the copy into its bucket; ``origin`` is the source bucket's driver when it
    is another bucket that ``driver``'s credentials read (:meth:`S3Driver.can_copy_from`).
    """
    origin = origin or driver
    head = origin.client.head_object(**origin.head_kwargs(src_key))
    source = origin.info(src_key, head)
    metadata = stored_metadata(head)
    if source.crc32c is not None:
        # A native CRC32C does not survive every copy path: keep it in metadata as well.
        metadata[CRC32C_METADATA_KEY] = source.crc32c
    conditions = {"IfNoneMatch": "*"} if if_none_match else {}
    last_modified = None
    try:
        if source.size > MAX_SINGLE_COPY:
            etag = multipart_copy(
                driver,
                src_key,
                dst_key,
                size=source.size,
                source_etag=source.etag,
                content_type=source.content_type,
                metadata=metadata,
                conditions=conditions,
                src_bucket=origin.bucket,
            )
        else:
            kwargs = _copy_request(
                driver.bucket, src_key, dst_key, source.etag, metadata, src_bucket=origin.bucket
            )
            _keep_or_replace_metadata(kwargs, head, crc32c=source.crc32c)
            result = driver.client.copy_object(**kwargs, **conditions).get("CopyObjectResult", {})
            etag = str(result.get("ETag", ""))
            last_modified = utc(result.get("LastModified"))
    except Exception as exc:
        # Two conditions can fail: the destination exists (if_none_match) or the source
        # changed since the HEAD above. Only the first is the caller's FAILED_PRECONDITION.
        if http_status(exc) != 412 or (if_none_match and _exists(driver, dst_key)):
            raise
        message = "the source object changed during the copy"
        raise UnavailableError(message, resource=src_key) from exc
    return ObjectInfo(
        key=dst_key,
        size=source.size,
        etag=quote_etag(etag),
        last_modified=last_modified,
        content_type=source.content_type,
        metadata=source.metadata,
        checksums=source.checksums,
    )


def _keep_or_replace_metadata(
    kwargs: dict[str, Any], head: Mapping[str, Any], *, crc32c: str | None
) -> None:
    """Make a CopyObject request keep the stored metadata, or replace it with the same plus
    the CRC32C where it must (see below)."""
    source, target = kwargs["CopySource"], kwargs
    if (source["Bucket"], source["Key"]) == (target["Bucket"], target["Key"]) or (
        crc32c is not None and CRC32C_METADATA_KEY not in stored_metadata(head)
    ):
        # S3 refuses a copy onto itself that changes nothing, and a native CRC32C does
        # not survive every copy path: replace the metadata with the same values plus
        # the CRC32C, and carry the other stored headers along.
        kwargs.update({h: head[h] for h in _REPLAYED_HEADERS if head.get(h)})
    else:
        kwargs["MetadataDirective"] = "COPY"
        del kwargs["Metadata"]


def _exists(driver: S3Driver, key: str) -> bool:
    try:
        driver.client.head_object(Bucket=driver.bucket, Key=key)
    except Exception as exc:
        if http_status(exc) == 404:
            return False
        raise
    return True


def multipart_copy(
    driver: S3Driver,
    src_key: str,
    dst_key: str,
    *,
    size: int,
    source_etag: str,
    content_type: str | None,
    metadata: Mapping[str, str],
    conditions: Mapping[str, str],
    src_bucket: str | None = None,
) -> str:
    """Copy an object too big for one CopyObject with UploadPartCopy, in parallel.

    ``src_bucket`` names the source's bucket when it is not the destination's.
    """
    client, bucket = driver.client, driver.bucket
    create: dict[str, Any] = {"Bucket": bucket, "Key": dst_key, "Metadata": dict(metadata)}
    if content_type:
        create["ContentType"] = content_type
    upload_id = str(client.create_multipart_upload(**create)["UploadId"])
    part_size = _copy_part_size(size)
    ranges = [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]

    def copy_part(numbered: tuple[int, tuple[int, int]]) -> dict[str, Any]:
        number, (first, last) = numbered
        response = client.upload_part_copy(
            Bucket=bucket,
            Key=dst_key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": src_bucket or bucket, "Key": src_key},
            CopySourceRange=f"bytes={first}-{last}",
            CopySourceIfMatch=source_etag,
        )
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    try:
        with ThreadPoolExecutor(
            max_workers=driver.max_concurrency, thread_name_prefix="portacloud-s3-copy"
        ) as pool:
            parts = list(pool.map(copy_part, enumerate(ranges, start=1)))
        response = client.complete_multipart_upload(
            Bucket=bucket,
            Key=dst_key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **conditions,
        )
    except BaseException:
        _abort_copy(driver, dst_key, upload_id)
        raise
    return str(response.get("ETag", ""))


def _abort_copy(driver: S3Driver, key: str, upload_id: str) -> None:
    try:
        driver.run(
            lambda: driver.client.abort_multipart_upload(
                Bucket=driver.bucket, Key=key, UploadId=upload_id
            ),
            retry=True,
        )
    except PortaCloudError as exc:
        _log.warning("could not abort multipart copy upload %s: %s", upload_id, exc)


def stamp_crc32c(
    driver: S3Driver, key: str, etag: str, *, size: int, options: WriteOptions, crc32c: str
) -> str:
    """Add the CRC32C to a just-completed multipart object's metadata; return its etag.

    The metadata-only self-copy is pinned to ``etag`` (the completion's), so if another writer
    replaced the object meanwhile nothing is stamped: their object is not ours to describe,
    and ours is gone.
    """
    metadata = {**options.metadata, CRC32C_METADATA_KEY: crc32c}
    pinned = quote_etag(etag)

    def once() -> str:
        if not driver.profile.copy_checks_source_if_match:
            # The server ignores the copy condition: check it here, narrowing the window.
            current = driver.client.head_object(Bucket=driver.bucket, Key=key)
            if quote_etag(current.get("ETag")) != pinned:
                return etag
        if size > MAX_SINGLE_COPY:
            return multipart_copy(
                driver,
                key,
                key,
                size=size,
                source_etag=etag,
                content_type=options.content_type,
                metadata=metadata,
                conditions={"IfMatch": pinned},
            )
        kwargs = _copy_request(driver.bucket, key, key, pinned, metadata)
        if options.content_type:
            kwargs["ContentType"] = options.content_type
        result = driver.client.copy_object(**kwargs).get("CopyObjectResult", {})
        return str(result.get("ETag", ""))

    try:
        return driver.run(once, retry=options.size_hint is None)
    except (FailedPreconditionError, NotFoundError):
        # Replaced or deleted since completion, or a retried copy that had already succeeded:
        # in the last case the object carries our CRC32C and is still ours.
        try:
            current = driver.stat(key)
        except Exception:  # noqa: BLE001 - any failure here means "not ours to describe"
            return etag
        if current.crc32c == crc32c and current.size == size:
            return current.etag
        return etag

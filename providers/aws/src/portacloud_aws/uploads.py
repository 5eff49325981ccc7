"""Versions and multipart uploads: what ``portacloud gc`` and ``erase`` list and remove.

A writer killed mid-upload leaves its multipart upload open, and S3 bills the parts until
the upload is aborted (or a lifecycle rule does it). ``gc`` aborts only uploads initiated more
than ``older_than`` ago, so uploads still in progress are safe; ``erase`` aborts every upload
under its prefix, and deletes every version and delete marker there by version ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from portacloud.errors import NotFoundError
from portacloud.storage.driver import PendingUpload, StoredVersion

__all__ = [
    "abort_stale_uploads",
    "check_deleted",
    "delete_versions",
    "list_uploads",
    "list_versions",
]

# A version or key already gone is what the caller wanted.
_GONE = frozenset({"NoSuchKey", "NoSuchVersion"})


def list_uploads(client: Any, bucket: str, prefix: str = "") -> list[PendingUpload]:
    """Every multipart upload of ``bucket`` whose key starts with ``prefix``."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if prefix:
        kwargs["Prefix"] = prefix
    found = []
    for page in client.get_paginator("list_multipart_uploads").paginate(**kwargs):
        for upload in page.get("Uploads") or []:
            initiated = upload.get("Initiated")
            found.append(
                PendingUpload(
                    key=str(upload["Key"]),
                    upload_id=str(upload["UploadId"]),
                    initiated=initiated.astimezone(UTC)
                    if isinstance(initiated, datetime)
                    else None,
                )
            )
    return found


def abort_stale_uploads(
    client: Any, bucket: str, *, older_than: timedelta, not_found: type[Exception]
) -> list[str]:
    """Abort every multipart upload of ``bucket`` initiated before ``older_than`` ago.

    Args:
        client: A boto3 S3 client.
        bucket: The bucket name.
        older_than: Minimum age of an upload to abort.
        not_found: The native exception type of an upload that is already gone (another gc,
            or its writer completing it meanwhile): not an error.

    Returns:
        ``"KEY (multipart upload ID)"`` for each upload aborted, sorted.
    """
    cutoff = datetime.now(UTC) - older_than
    removed = []
    for upload in list_uploads(client, bucket):
        if upload.initiated is None or upload.initiated >= cutoff:
            continue
        with suppress(not_found, NotFoundError):
            client.abort_multipart_upload(Bucket=bucket, Key=upload.key, UploadId=upload.upload_id)
            removed.append(f"{upload.key} (multipart upload {upload.upload_id})")
    return sorted(removed)


def list_versions(client: Any, bucket: str, prefix: str) -> list[StoredVersion]:
    """ListObjectVersions: every version and delete marker of keys under ``prefix``."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if prefix:
        kwargs["Prefix"] = prefix
    found = []
    for page in client.get_paginator("list_object_versions").paginate(**kwargs):
        found += [
            StoredVersion(key=str(v["Key"]), version=v.get("VersionId"), size=int(v.get("Size", 0)))
            for v in page.get("Versions") or []
        ]
        found += [
            StoredVersion(key=str(m["Key"]), version=m.get("VersionId"), delete_marker=True)
            for m in page.get("DeleteMarkers") or []
        ]
    return found


def delete_versions(client: Any, bucket: str, versions: Sequence[StoredVersion]) -> None:
    """DeleteObjects naming each version ID (up to 1,000): each version goes for good."""
    if not versions:
        return
    objects = [
        {"Key": v.key, "VersionId": v.version} if v.version else {"Key": v.key} for v in versions
    ]
    response = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    check_deleted(response, len(objects))


def check_deleted(response: Any, count: int) -> None:
    """Raise the first failure a DeleteObjects answer lists (a key already gone is none)."""
    failed = [e for e in response.get("Errors") or [] if e.get("Code") not in _GONE]
    if failed:
        from portacloud_aws.errors import make_client_error

        first = failed[0]
        message = (
            f"{len(failed)} of {count} deletes failed; first {first.get('Key')!r}: "
            f"{first.get('Message', '')}"
        )
        raise make_client_error(str(first.get("Code", "")), message, "DeleteObjects")

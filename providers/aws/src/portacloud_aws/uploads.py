"""Multipart uploads that no one will complete: what ``portacloud gc s3://...`` removes.

A writer killed mid-upload leaves its multipart upload open, and S3 bills the parts until
the upload is aborted (or a lifecycle rule does it). Only uploads initiated more than
``older_than`` ago are aborted, so uploads still in progress are safe.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from portacloud.errors import NotFoundError

__all__ = ["abort_stale_uploads"]


def _stale(client: Any, bucket: str, cutoff: datetime) -> list[tuple[str, str]]:
    found = []
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads") or []:
            initiated = upload.get("Initiated")
            if isinstance(initiated, datetime) and initiated.astimezone(UTC) < cutoff:
                found.append((str(upload["Key"]), str(upload["UploadId"])))
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
    for key, upload_id in _stale(client, bucket, cutoff):
        with suppress(not_found, NotFoundError):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            removed.append(f"{key} (multipart upload {upload_id})")
    return sorted(removed)

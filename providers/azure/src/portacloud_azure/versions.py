"""What ``Bucket.erase`` lists and deletes on Blob Storage: blobs, versions, snapshots, blocks.

One listing (``include=versions,snapshots,uncommittedblobs``) shows everything a container
stores under a prefix: each blob version (where the account keeps versions), each snapshot
(as version ``snapshot:TIME``) and each blob that has only uncommitted blocks. Deleting the
base blob (snapshots included) drops its uncommitted blocks and turns its current version
into a previous one with the same ID, which is then deleted by that ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portacloud.storage.driver import StoredVersion
from portacloud_azure.errors import error_code
from portacloud_azure.objects import info_from_props

__all__ = ["delete_versions", "list_versions"]

_SNAPSHOT = "snapshot:"


def list_versions(container: Any, prefix: str) -> list[StoredVersion]:
    """Every version, snapshot and uncommitted blob under ``prefix``."""
    items = container.list_blobs(
        name_starts_with=prefix or None,
        include=["metadata", "versions", "snapshots", "uncommittedblobs"],
    )
    found = []
    for item in items:
        name = str(item.name)
        version = item.version_id or (f"{_SNAPSHOT}{item.snapshot}" if item.snapshot else None)
        complete = item.etag and item.size is not None
        crc32c = info_from_props(name, item).crc32c if complete else None
        found.append(
            StoredVersion(key=name, version=version, size=int(item.size or 0), crc32c=crc32c)
        )
    return found


def delete_versions(container: Any, versions: Sequence[StoredVersion]) -> None:
    """Delete each base blob (snapshots and blocks with it), then each version by its ID."""
    for key in sorted({v.key for v in versions}):
        _gone_is_fine(container.get_blob_client(key).delete_blob, delete_snapshots="include")
    for item in versions:
        if item.version is None:
            continue
        if item.version.startswith(_SNAPSHOT):
            snapshot = item.version[len(_SNAPSHOT) :]
            client = container.get_blob_client(item.key, snapshot=snapshot)
            _gone_is_fine(client.delete_blob)
        else:
            client = container.get_blob_client(item.key)
            _gone_is_fine(client.delete_blob, version_id=item.version)


def _gone_is_fine(delete: Any, **kwargs: Any) -> None:
    try:
        delete(**kwargs)
    except Exception as exc:
        if error_code(exc) != "BlobNotFound":
            raise

"""``Bucket.erase`` on fake-gcs-server and Azurite, checked with each vendor's own SDK.

Keys beside the prefix that share its first characters (``user-420/``, ``user-42``) must stay;
what the server keeps under the prefix beyond live objects (an Azure snapshot, a blob with only
uncommitted blocks, a GCS generation) must go.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from azure_support import azurite_connection_string, fresh_container, service_client
from gcs_support import fresh_bucket, gcs_endpoint
from gcs_support import raw_client as gcs_client

import portacloud

pytestmark = pytest.mark.integration

PREFIX = "user-42/"
INSIDE = ("user-42/a.txt", "user-42/deep/b.bin")
OUTSIDE = ("user-420/photo.jpg", "user-42", "user-4/x")


def _check_receipt(result: portacloud.EraseResult) -> None:
    assert result.verified, result
    assert result.remaining == 0
    receipt = Path(result.receipt or "")
    assert hashlib.sha256(receipt.read_bytes()).hexdigest() == result.receipt_sha256
    assert len(receipt.read_text().splitlines()) == len(result.items)
    assert all(line.verified and line.erased_at for line in result.items)


def test_erase_on_fake_gcs(tmp_path: Path) -> None:
    endpoint = gcs_endpoint()
    client = gcs_client(endpoint)
    with fresh_bucket(endpoint) as name:
        for key in (*INSIDE, *OUTSIDE):
            client.bucket(name).blob(key).upload_from_string(b"v1")
            client.bucket(name).blob(key).upload_from_string(b"v2")
        url = f"gs://{name}?endpoint_url={endpoint}"
        with portacloud.open_bucket(url) as bucket:
            assert bucket.capabilities.versions
            assert not bucket.capabilities.list_uploads
            result = bucket.erase(PREFIX, receipt=tmp_path / "r.jsonl")
        _check_receipt(result)
        assert {line.key for line in result.items} == set(INSIDE)
        assert all(line.kind == "version" and line.version for line in result.items)
        assert all(line.crc32c for line in result.items)
        left = {b.name for b in client.list_blobs(name, versions=True)}
        assert left == set(OUTSIDE)
        assert any("list_uploads is false" in g for g in result.unverifiable)
    client.close()


def test_erase_on_azurite_takes_snapshots_and_uncommitted_blocks(tmp_path: Path) -> None:
    conn = azurite_connection_string()
    service = service_client(conn)
    with fresh_container(conn) as name:
        container = service.get_container_client(name)
        for key in (*INSIDE, *OUTSIDE):
            container.upload_blob(key, b"bytes", overwrite=True)
        container.get_blob_client(INSIDE[0]).create_snapshot()
        container.get_blob_client("user-420/photo.jpg").create_snapshot()
        container.get_blob_client("user-42/staged.bin").stage_block("YmxvY2s=", b"staged")
        container.get_blob_client("user-420/staged.bin").stage_block("YmxvY2s=", b"staged")
        with portacloud.open_bucket(f"az://{name}") as bucket:
            planned = bucket.erase(PREFIX, dry_run=True)
            assert {line.key for line in planned.items} == {*INSIDE, "user-42/staged.bin"}
            assert any((line.version or "").startswith("snapshot:") for line in planned.items)
            result = bucket.erase(PREFIX, receipt=tmp_path / "r.jsonl")
        _check_receipt(result)
        assert len(result.items) == len(planned.items) == 4
        everything = {"metadata", "versions", "snapshots", "uncommittedblobs"}
        left = [(b.name, b.snapshot) for b in container.list_blobs(include=sorted(everything))]
        assert not [key for key, _ in left if key.startswith(PREFIX)]
        assert sorted(key for key, _ in left) == sorted(
            [*OUTSIDE, "user-420/photo.jpg", "user-420/staged.bin"]
        )
    service.close()

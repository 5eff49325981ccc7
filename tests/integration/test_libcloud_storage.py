"""libcloud+s3:// against SeaweedFS and libcloud+azure-blobs:// against Azurite.

Both go through libcloud's own S3 and Azure Blobs drivers (scripts/servers/seaweedfs.sh and
azurite.sh start the servers and write PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT and
PORTACLOUD_TEST_AZURITE_CONNECTION_STRING). Containers are created, and what the driver stored
is inspected, with boto3 and the Azure SDK directly, behind the driver's back.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

import portacloud
from portacloud.checksums import CRC32C_METADATA_KEY, crc32c_hex
from portacloud.retry import RetryPolicy

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
ONE_TRY = RetryPolicy(attempts=1)
SEAWEEDFS_ENV = "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT"
AZURITE_ENV = "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING"


def _required(variable: str, server: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    reason = f"{server} not running: scripts/services.sh start ({variable} is unset)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _chunks(size: int, seed: int) -> Iterator[bytes]:
    data = uuid.UUID(int=seed).bytes * (MiB // 16)
    left = size
    while left > 0:
        yield data[: min(left, len(data))]
        left -= len(data)


# --------------------------------------------------------------------------- SeaweedFS


@pytest.fixture
def seaweedfs(monkeypatch: pytest.MonkeyPatch) -> str:
    endpoint = _required(SEAWEEDFS_ENV, "SeaweedFS")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    # The throw-away identity scripts/servers/seaweedfs.sh gives its server.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return endpoint


def _s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
    )


@pytest.fixture
def s3_bucket(seaweedfs: str) -> Iterator[tuple[Any, str, str]]:
    """A fresh bucket: (boto3 client, bucket name, libcloud+s3 URL)."""
    client = _s3_client(seaweedfs)
    name = f"lc-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    parts = urlsplit(seaweedfs)
    url = f"libcloud+s3://{name}?host={parts.hostname}&port={parts.port}&secure=false"
    try:
        yield client, name, url
    finally:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)
        for page in pages:
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=name)
        client.close()


def test_s3_profile_is_seaweedfs_and_conditional_features_are_off(
    s3_bucket: tuple[Any, str, str],
) -> None:
    _, _, url = s3_bucket
    with portacloud.open_bucket(url) as bucket:
        caps = bucket.capabilities
        assert bucket.provider == "libcloud+s3"
        assert caps.key_max_segment_bytes == 255  # the SeaweedFS profile, from its Server header
        assert not caps.write_with_if_none_match
        assert not caps.write_with_if_match
        assert not caps.server_side_copy
        with pytest.raises(portacloud.UnsupportedError, match="write_with_if_none_match"):
            bucket.put("k", b"x", if_none_match="*")
        with pytest.raises(portacloud.UnsupportedError, match="server_side_copy"):
            bucket.copy("a", "b")


def test_s3_crc32c_lives_in_user_metadata(s3_bucket: tuple[Any, str, str]) -> None:
    client, name, url = s3_bucket
    data = b"portable bytes" * 100
    with portacloud.open_bucket(url) as bucket:
        info = bucket.put("dir/obj", data, content_type="text/plain", metadata={"team": "ml"})
        assert info.crc32c == crc32c_hex(data)
        head = bucket.head("dir/obj")
        assert head.crc32c == crc32c_hex(data)
        assert dict(head.metadata) == {"team": "ml"}
        assert head.content_type == "text/plain"
        assert head.etag == info.etag
    raw = client.head_object(Bucket=name, Key="dir/obj")
    assert raw["Metadata"][CRC32C_METADATA_KEY] == crc32c_hex(data)
    assert raw["Metadata"]["team"] == "ml"


def test_s3_crc32c_is_checked_on_read(s3_bucket: tuple[Any, str, str]) -> None:
    client, name, url = s3_bucket
    # Written behind the driver's back with a CRC32C that does not match the bytes.
    client.put_object(
        Bucket=name, Key="bad", Body=b"abc", Metadata={CRC32C_METADATA_KEY: "00000000"}
    )
    client.put_object(Bucket=name, Key="foreign", Body=b"no crc here")
    with portacloud.open_bucket(url, retry=ONE_TRY) as bucket:
        with pytest.raises(portacloud.ChecksumMismatchError):
            bucket.get("bad")
        assert bucket.get("foreign") == b"no crc here"  # nothing recorded, nothing to check
        assert bucket.head("foreign").crc32c is None


def test_s3_large_stream_goes_up_in_parts(s3_bucket: tuple[Any, str, str]) -> None:
    client, name, url = s3_bucket
    size = 12 * MiB
    expected = b"".join(_chunks(size, 7))
    with portacloud.open_bucket(url) as bucket:
        info = bucket.put("big", _chunks(size, 7))
        assert info.size == size
        assert bucket.head("big").crc32c == crc32c_hex(expected)
        assert (
            bucket.get("big", range=(5 * MiB - 3, 5 * MiB + 3))
            == expected[5 * MiB - 3 : 5 * MiB + 3]
        )
        assert bucket.get("big") == expected
    # upload_object_via_stream: an S3 multipart upload, so the etag counts its parts.
    etag = client.head_object(Bucket=name, Key="big")["ETag"].strip('"')
    assert etag.endswith("-3")


def test_s3_failed_stream_leaves_nothing(s3_bucket: tuple[Any, str, str]) -> None:
    client, name, url = s3_bucket

    def failing() -> Iterator[bytes]:
        yield from _chunks(10 * MiB, 3)
        raise OSError("the source failed midway")

    with portacloud.open_bucket(url) as bucket, pytest.raises(OSError, match="midway"):
        bucket.put("failed", failing())
    assert client.list_objects_v2(Bucket=name).get("KeyCount", 0) == 0
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_s3_listing_is_sorted_although_seaweedfs_lists_as_a_tree(
    s3_bucket: tuple[Any, str, str],
) -> None:
    client, name, url = s3_bucket
    for key in ("a/b", "a-b", "a/c/d", "b"):
        client.put_object(Bucket=name, Key=key, Body=key.encode())
    with portacloud.open_bucket(url) as bucket:
        assert [e.key for e in bucket.list(page_size=1)] == ["a-b", "a/b", "a/c/d", "b"]
        top = [e.key for e in bucket.list(delimiter="/")]
        assert top == ["a-b", "a/", "b"]
        assert [e.key for e in bucket.list(start_after="a/b")] == ["a/c/d", "b"]


def test_s3_signed_url_on_a_non_default_port(s3_bucket: tuple[Any, str, str]) -> None:
    _, _, url = s3_bucket
    with portacloud.open_bucket(url) as bucket:
        bucket.put("signed", b"secret bytes")
        signed = bucket.signed_url("signed", expires=60)
    assert f":{urlsplit(signed).port}/" in signed
    with urllib.request.urlopen(signed, timeout=30) as response:
        assert response.read() == b"secret bytes"


def test_s3_errors(s3_bucket: tuple[Any, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, name, url = s3_bucket
    with pytest.raises(portacloud.NotFoundError):
        portacloud.open_bucket(url.replace(name, f"{name}-missing"))
    with portacloud.open_bucket(url) as bucket, pytest.raises(portacloud.NotFoundError) as caught:
        bucket.get("missing/key")
    assert caught.value.provider == "libcloud+s3"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(portacloud.UnauthenticatedError):
        portacloud.open_bucket(url)
    # Typed keyword options win over the environment.
    with portacloud.open_bucket(url, key="testing", secret="testing") as bucket:
        assert bucket.put("k", b"v").size == 1


# --------------------------------------------------------------------------- Azurite


@pytest.fixture
def azurite(monkeypatch: pytest.MonkeyPatch) -> str:
    conn = _required(AZURITE_ENV, "Azurite")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    return conn


@pytest.fixture
def container(azurite: str) -> Iterator[tuple[Any, str]]:
    """A fresh container: (Azure SDK container client, name)."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite)
    name = f"lc-{uuid.uuid4().hex[:16]}"
    client = service.create_container(name)
    try:
        yield client, name
    finally:
        service.delete_container(name)
        service.close()


def test_azure_round_trip_and_escaped_metadata(container: tuple[Any, str]) -> None:
    client, name = container
    data = b"azure bytes" * 1000
    with portacloud.open_bucket(f"libcloud+azure-blobs://{name}/pre/") as bucket:
        assert bucket.provider == "libcloud+azure-blobs"
        info = bucket.put("k", data, content_type="application/x-test", metadata={"run-id": "7"})
        head = bucket.head("k")
        assert head.etag == info.etag
        assert head.crc32c == crc32c_hex(data)
        assert dict(head.metadata) == {"run-id": "7"}
        assert head.content_type == "application/x-test"
        (listed,) = bucket.list()
        # Azure lists metadata, so the listing carries the CRC32C too.
        assert listed.crc32c == crc32c_hex(data)
        assert bucket.get("k", range=(-5, None)) == data[-5:]
    properties = client.get_blob_client("pre/k").get_blob_properties()
    assert properties.metadata == {"portacloud_hcrc32c": crc32c_hex(data), "run_hid": "7"}


def test_azure_objects_interoperate_with_az(container: tuple[Any, str]) -> None:
    pytest.importorskip("portacloud_azure")
    _, name = container
    with portacloud.open_bucket(f"libcloud+azure-blobs://{name}") as via_libcloud:
        via_libcloud.put("from-libcloud", b"one", metadata={"a.b": "1"})
    with portacloud.open_bucket(f"az://{name}") as via_az:
        head = via_az.head("from-libcloud")
        assert head.crc32c == crc32c_hex(b"one")
        assert dict(head.metadata) == {"a.b": "1"}
        via_az.put("from-az", b"two", metadata={"x-y": "2"})
    with portacloud.open_bucket(f"libcloud+azure-blobs://{name}") as via_libcloud:
        head = via_libcloud.head("from-az")
        assert head.crc32c == crc32c_hex(b"two")
        assert dict(head.metadata) == {"x-y": "2"}
        assert via_libcloud.get("from-az") == b"two"


def test_azure_large_stream_goes_up_in_blocks(container: tuple[Any, str]) -> None:
    client, name = container
    size = 9 * MiB
    expected = b"".join(_chunks(size, 11))
    with portacloud.open_bucket(f"libcloud+azure-blobs://{name}") as bucket:
        with bucket.open("big", "wb") as out:
            for chunk in _chunks(size, 11):
                out.write(chunk)
        assert bucket.head("big").crc32c == crc32c_hex(expected)
        with bucket.open("big") as f:
            f.seek(4 * MiB)
            assert f.read(10) == expected[4 * MiB : 4 * MiB + 10]
    blocks = client.get_blob_client("big").get_block_list("committed")[0]
    assert len(blocks) == 3  # upload_object_via_stream: 4 MiB blocks


def test_azure_errors(container: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, name = container
    with pytest.raises(portacloud.NotFoundError):
        portacloud.open_bucket(f"libcloud+azure-blobs://{name}-missing")
    with portacloud.open_bucket(f"libcloud+azure-blobs://{name}") as bucket:
        with pytest.raises(portacloud.NotFoundError):
            bucket.head("missing")
        bucket.delete("missing")  # deleting nothing is not an error
    conn = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    fields = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
    fields["AccountKey"] = "d3Jvbmcga2V5"  # "wrong key"
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", ";".join(f"{k}={v}" for k, v in fields.items())
    )
    with pytest.raises((portacloud.UnauthenticatedError, portacloud.PermissionDeniedError)):
        portacloud.open_bucket(f"libcloud+azure-blobs://{name}")


def test_the_callers_retry_policy_reaches_the_spool_uploads(
    s3_bucket: tuple[Any, str, str],
) -> None:
    _, _, url = s3_bucket
    with portacloud.open_bucket(url, retry=ONE_TRY) as bucket:
        assert bucket._driver.retry is ONE_TRY

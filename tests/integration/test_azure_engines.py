"""The two engines of az:// (azure-storage-blob, obstore) on Azurite: each reads the other's blobs.

Objects are written through one engine and read, listed and described through the other; what is
stored is inspected with azure-storage-blob directly, behind the drivers' backs.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure_support import (
    DRIVER_ENV,
    azurite_connection_string,
    fields,
    fresh_container,
    service_client,
)

import portacloud
from portacloud.checksums import crc32c_hex

pytestmark = pytest.mark.integration

KiB = 1024
BLOCK = 256 * KiB
METADATA = {"owner": "me", "content-type": "meta", "x.y_z": "1", "9lives": "cat"}


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> str:
    value = azurite_connection_string()
    monkeypatch.setenv(DRIVER_ENV, value)
    return value


@pytest.fixture
def container(conn: str) -> Iterator[str]:
    with fresh_container(conn) as name:
        yield name


def _open(container: str, engine: str) -> portacloud.Bucket:
    return portacloud.open_bucket(f"az://{container}", engine=engine, block_size=BLOCK)


def _write_all(bucket: portacloud.Bucket) -> dict[str, bytes]:
    """A single-request object and a streamed one of several blocks, with metadata."""
    rng = random.Random(12)
    small, big = rng.randbytes(100_000), rng.randbytes(4 * BLOCK + 7)
    bucket.put("d/small", small, content_type="text/x-small", metadata=METADATA)
    with bucket.open("d/big", "wb", content_type="application/x-big", metadata=METADATA) as f:
        for i in range(0, len(big), 100 * KiB):
            f.write(big[i : i + 100 * KiB])
    return {"d/small": small, "d/big": big}


@pytest.mark.parametrize(("writer", "reader"), [("sdk", "obstore"), ("obstore", "sdk")])
def test_each_engine_reads_the_others_objects(container: str, writer: str, reader: str) -> None:
    with _open(container, writer) as w, _open(container, reader) as r:
        written = _write_all(w)
        for key, data in written.items():
            assert r.get(key) == data
            assert r.get(key, range=(-10, None)) == data[-10:]
            assert r.get(key, range=(5, 300_000)) == data[5:300_000]
            with r.open(key) as f:
                assert f.read() == data
            info, theirs = r.head(key), w.head(key)
            assert info.crc32c == crc32c_hex(data) == theirs.crc32c
            assert info.metadata == METADATA == theirs.metadata
            assert info.content_type == theirs.content_type
            assert (info.size, info.etag) == (theirs.size, theirs.etag)
        listed = {e.key: e.size for e in r.list("d/")}
        assert listed == {k: len(v) for k, v in written.items()}
        r.delete("d/small")
        assert not w.exists("d/small")


def test_obstore_stores_what_the_sdk_stores(conn: str, container: str) -> None:
    data = b"stored by obstore"
    with _open(container, "obstore") as bucket:
        bucket.put("k", data, metadata={"a-b": "c"})
        bucket.put("typed", data, content_type="text/plain")
    service = service_client(conn)
    try:
        blobs = service.get_container_client(container)
        props = blobs.get_blob_client("k").get_blob_properties()
        typed = blobs.get_blob_client("typed").get_blob_properties()
    finally:
        service.close()
    assert props.metadata == {"a_hb": "c", "portacloud_hcrc32c": crc32c_hex(data)}
    assert props.content_settings.content_type == "application/octet-stream"
    assert typed.content_settings.content_type == "text/plain"


def test_obstore_engine_keeps_keys_obstore_would_rewrite(container: str) -> None:
    keys = ["dir/", "/lead", "a//b", "plain"]
    with _open(container, "obstore") as bucket:
        for key in keys:
            bucket.put(key, key.encode())
            assert bucket.get(key) == key.encode()
            assert bucket.head(key).size == len(key)
        # obstore would list "dir/" as "dir" and "/lead" as "lead".
        assert sorted(e.key for e in bucket.list()) == sorted(keys)
        for key in keys:
            bucket.delete(key)
        assert list(bucket.list()) == []


def test_conditional_writes_on_obstore(container: str) -> None:
    with _open(container, "obstore") as bucket:
        first = bucket.put("c", b"1", if_none_match="*")
        with pytest.raises(portacloud.FailedPreconditionError):
            bucket.put("c", b"2", if_none_match="*")
        second = bucket.put("c", b"2", if_match=first.etag)
        with pytest.raises(portacloud.FailedPreconditionError):
            bucket.put("c", b"3", if_match=first.etag)
        assert bucket.head("c").etag == second.etag
        assert bucket.get("c") == b"2"
        with pytest.raises(portacloud.NotFoundError):
            bucket.get("missing")
        bucket.delete("missing")  # a missing blob is no error, as on the SDK engine


def _sas_connection_string(conn: str, container: str) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    parts = fields(conn)
    sas = generate_container_sas(
        parts["AccountName"],
        container,
        account_key=parts["AccountKey"],
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return f"BlobEndpoint={parts['BlobEndpoint']};SharedAccessSignature={sas}"


def test_obstore_uses_a_sas_connection_string(
    conn: str, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DRIVER_ENV, _sas_connection_string(conn, container))
    with _open(container, "obstore") as bucket:
        bucket.put("s", b"through a SAS")
        assert bucket.get("s") == b"through a SAS"
        assert bucket.head("s").crc32c == crc32c_hex(b"through a SAS")


def test_token_credentials_go_through_azure_identity() -> None:
    from portacloud_azure.obstore_engine import _credentials

    class Token:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise AssertionError("not called at build time")

    service: Any = type("Service", (), {"credential": Token()})()
    provider = _credentials(service, "")["credential_provider"]
    assert type(provider).__name__ == "AzureCredentialProvider"


def test_engine_option_is_checked() -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="engine"):
        portacloud.open_bucket("az://container?engine=rust")


def test_obstore_is_imported_only_by_its_engine() -> None:
    code = (
        "import sys, portacloud_azure.storage, portacloud_azure.driver;"
        "assert 'obstore' not in sys.modules, 'obstore imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_obstore_is_the_default_and_a_profile_or_the_url_chooses(container: str) -> None:
    from portacloud.profiles import Profile

    sdk = Profile(name="sdk", storage_engine="sdk")
    url = f"az://{container}"
    # retry_after is the capability the two engines differ in (obstore sees no headers).
    assert not portacloud.open_bucket(url).capabilities.retry_after
    assert portacloud.open_bucket(url, profile=sdk).capabilities.retry_after
    assert not portacloud.open_bucket(f"{url}?engine=obstore", profile=sdk).capabilities.retry_after

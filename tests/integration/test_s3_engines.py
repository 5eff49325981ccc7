"""The two engines of s3:// (boto3, obstore) on SeaweedFS and moto: each reads the other's objects.

Objects are written through one engine and read, listed and described through the other; what is
stored is inspected with boto3 directly, behind the drivers' backs.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from s3_support import fresh_bucket, isolate_aws_env, raw_client, s3_endpoint

import portacloud
from portacloud.checksums import CRC32C_METADATA_KEY, crc32c_hex

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
ENGINES = ("sdk", "obstore")


@pytest.fixture(params=["seaweedfs", "moto"])
def endpoint(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    isolate_aws_env(monkeypatch)
    return s3_endpoint(str(request.param))


@pytest.fixture
def bucket_name(endpoint: str) -> Iterator[str]:
    with fresh_bucket(endpoint) as name:
        yield name


def _open(endpoint: str, bucket_name: str, engine: str) -> portacloud.Bucket:
    return portacloud.open_bucket(
        f"s3://{bucket_name}", endpoint_url=endpoint, engine=engine, part_size=5 * MiB
    )


def _chunks(data: bytes, size: int = MiB) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _write_all(bucket: portacloud.Bucket) -> dict[str, bytes]:
    """A single-request object, a streamed multipart one, and an odd key, with metadata."""
    rng = random.Random(12)
    small, big = rng.randbytes(100_000), rng.randbytes(11 * MiB)
    bucket.put("d/small", small, content_type="text/x-small", metadata={"owner": "me"})
    with bucket.open(
        "d/big", "wb", content_type="application/x-big", metadata={"owner": "me"}
    ) as f:
        for chunk in _chunks(big):
            f.write(chunk)
    return {"d/small": small, "d/big": big}


@pytest.mark.parametrize(("writer", "reader"), [("sdk", "obstore"), ("obstore", "sdk")])
def test_each_engine_reads_the_others_objects(
    endpoint: str, bucket_name: str, writer: str, reader: str
) -> None:
    with _open(endpoint, bucket_name, writer) as w, _open(endpoint, bucket_name, reader) as r:
        written = _write_all(w)
        for key, data in written.items():
            assert r.get(key) == data
            assert r.get(key, range=(-10, None)) == data[-10:]
            with r.open(key) as f:
                assert f.read() == data
            info, theirs = r.head(key), w.head(key)
            assert info.crc32c == crc32c_hex(data) == theirs.crc32c
            assert info.metadata == {"owner": "me"} == theirs.metadata
            assert info.content_type == theirs.content_type
            assert (info.size, info.etag) == (theirs.size, theirs.etag)
        listed = {e.key: e.size for e in r.list("d/")}
        assert listed == {k: len(v) for k, v in written.items()}


def test_obstore_stores_the_crc32c_where_the_sdk_does(endpoint: str, bucket_name: str) -> None:
    data = b"stored by obstore"
    with _open(endpoint, bucket_name, "obstore") as bucket:
        bucket.put("k", data, metadata={"a": "b"})
    raw: Any = raw_client(endpoint)
    try:
        head = raw.head_object(Bucket=bucket_name, Key="k")
    finally:
        raw.close()
    assert head["Metadata"] == {"a": "b", CRC32C_METADATA_KEY: crc32c_hex(data)}


def test_obstore_engine_keeps_keys_and_metadata_obstore_would_rewrite(
    endpoint: str, bucket_name: str
) -> None:
    with _open(endpoint, bucket_name, "obstore") as bucket:
        caps = bucket.capabilities
        keys = ["tab\tkey"] if caps.key_control_chars else []
        keys += ["dir/", "a//b", "a/./b"] if caps.key_empty_segments else []
        for key in keys:
            bucket.put(key, key.encode())
            assert bucket.get(key) == key.encode()
        assert sorted(e.key for e in bucket.list()) == sorted(keys)
        # obstore would send these as headers, not as x-amz-meta-*.
        bucket.put("m", b"m", metadata={"content-type": "meta", "cache-control": "meta"})
        assert bucket.head("m").metadata == {"content-type": "meta", "cache-control": "meta"}


def test_conditional_writes_on_obstore(endpoint: str, bucket_name: str) -> None:
    with _open(endpoint, bucket_name, "obstore") as bucket:
        first = bucket.put("c", b"1", if_none_match="*")
        with pytest.raises(portacloud.FailedPreconditionError):
            bucket.put("c", b"2", if_none_match="*")
        second = bucket.put("c", b"2", if_match=first.etag)
        with pytest.raises(portacloud.FailedPreconditionError):
            bucket.put("c", b"3", if_match=first.etag)
        assert bucket.head("c").etag == second.etag
        assert bucket.get("c") == b"2"


def test_engine_option_is_checked() -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="engine"):
        portacloud.open_bucket("s3://b?engine=rust")


def test_obstore_is_imported_only_by_its_engine() -> None:
    code = (
        "import sys, portacloud_aws.storage, portacloud_aws.s3_driver;"
        "assert 'obstore' not in sys.modules, 'obstore imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_obstore_is_the_default_and_a_profile_or_the_url_chooses(
    endpoint: str, bucket_name: str
) -> None:
    from portacloud.profiles import Profile

    url = f"s3://{bucket_name}?endpoint_url={endpoint}"
    sdk = Profile(name="sdk", storage_engine="sdk")
    # retry_after is the capability the two engines differ in (obstore sees no headers).
    assert not portacloud.open_bucket(url).capabilities.retry_after
    assert portacloud.open_bucket(url, profile=sdk).capabilities.retry_after
    assert portacloud.open_bucket(f"{url}&engine=sdk").capabilities.retry_after
    assert not portacloud.open_bucket(f"{url}&engine=obstore", profile=sdk).capabilities.retry_after
    assert not portacloud.open_bucket(url, profile=sdk, engine="obstore").capabilities.retry_after
    # A provider without engines ignores the profile's choice.
    assert portacloud.open_bucket("memory://engines", profile=sdk).capabilities.retry_after

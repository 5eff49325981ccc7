"""``Bucket.erase`` and ``portacloud erase`` on real S3 servers with versioning on.

The bucket is arranged and inspected with boto3 directly, behind portacloud's back: several
versions of a key, delete markers, an unfinished multipart upload under the prefix, and keys
beside it that share its first characters (``user-420/``, ``user-42``) and must stay exactly
as they were, every version included.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from s3_support import isolate_aws_env, raw_client, s3_endpoint

import portacloud

pytestmark = pytest.mark.integration

PREFIX = "user-42/"
OUTSIDE = ("user-420/photo.jpg", "user-42", "user-4/x", "other/user-42/y")


def _versions(client: Any, bucket: str, prefix: str = "") -> set[tuple[str, str, bool]]:
    """(key, version ID, is a delete marker) of everything stored under ``prefix``."""
    found: set[tuple[str, str, bool]] = set()
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        found |= {(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])}
        found |= {(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", [])}
    return found


def _uploads(client: Any, bucket: str, prefix: str = "") -> set[tuple[str, str]]:
    answer = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return {(u["Key"], u["UploadId"]) for u in answer.get("Uploads", [])}


@contextmanager
def versioned_bucket(endpoint: str, region: str) -> Iterator[str]:
    """A fresh bucket with versioning on; every version and upload is removed afterwards."""
    client = raw_client(endpoint)
    name = f"pc-{uuid.uuid4().hex[:20]}"
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    try:
        yield name
    finally:
        for key, upload_id in _uploads(client, name):
            client.abort_multipart_upload(Bucket=name, Key=key, UploadId=upload_id)
        for key, version, _ in _versions(client, name):
            client.delete_object(Bucket=name, Key=key, VersionId=version)
        client.delete_bucket(Bucket=name)
        client.close()


def _arrange(client: Any, bucket: str) -> None:
    """Versions, a delete marker, a deleted-then-rewritten key and an open upload."""
    for body in (b"v1", b"v2", b"v3"):
        client.put_object(Bucket=bucket, Key=f"{PREFIX}a.txt", Body=body)
    client.put_object(Bucket=bucket, Key=f"{PREFIX}gone.txt", Body=b"was here")
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}gone.txt")  # a delete marker on top
    client.put_object(Bucket=bucket, Key=f"{PREFIX}deep/b.bin", Body=b"x" * 1000)
    started = client.create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}big.bin")
    client.upload_part(
        Bucket=bucket,
        Key=f"{PREFIX}big.bin",
        UploadId=started["UploadId"],
        PartNumber=1,
        Body=b"p" * 1024,
    )
    for key in OUTSIDE:
        client.put_object(Bucket=bucket, Key=key, Body=b"keep 1")
        client.put_object(Bucket=bucket, Key=key, Body=b"keep 2")
    client.delete_object(Bucket=bucket, Key="user-420/photo.jpg")  # a marker outside, kept
    client.create_multipart_upload(Bucket=bucket, Key="user-420/big.bin")


def _outside(client: Any, bucket: str) -> tuple[set[tuple[str, str, bool]], set[Any]]:
    versions = {v for v in _versions(client, bucket) if not v[0].startswith(PREFIX)}
    uploads = {u for u in _uploads(client, bucket) if not u[0].startswith(PREFIX)}
    return versions, uploads


@pytest.mark.parametrize(
    ("server", "region"),
    [("moto", "us-east-1"), ("moto", "eu-west-1"), ("seaweedfs", "us-east-1")],
)
def test_erase_leaves_nothing_under_the_prefix_and_touches_nothing_else(
    server: str, region: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint = s3_endpoint(server)
    isolate_aws_env(monkeypatch)
    client = raw_client(endpoint)
    with versioned_bucket(endpoint, region) as name:
        _arrange(client, name)
        before_outside = _outside(client, name)
        under = _versions(client, name, PREFIX)
        assert len(under) == 6  # a.txt three times, gone.txt and its marker, deep/b.bin
        with portacloud.open_bucket(f"s3://{name}?endpoint_url={endpoint}") as bucket:
            assert bucket.capabilities.versions
            assert bucket.capabilities.list_uploads
            planned = bucket.erase(PREFIX, dry_run=True)
            assert planned.dry_run
            assert planned.receipt is None
            assert (planned.objects, planned.delete_markers, planned.uploads) == (5, 1, 1)
            assert _versions(client, name, PREFIX) == under  # a dry run deletes nothing
            result = bucket.erase(PREFIX, receipt=tmp_path / "erase.jsonl")

        assert _versions(client, name, PREFIX) == set()
        assert _uploads(client, name, PREFIX) == set()
        assert _outside(client, name) == before_outside
        assert result.verified
        assert result.remaining == 0
        assert (result.objects, result.delete_markers, result.uploads) == (5, 1, 1)
        assert result.bytes == 2 + 2 + 2 + 8 + 1000
        receipt = Path(result.receipt or "")
        assert hashlib.sha256(receipt.read_bytes()).hexdigest() == result.receipt_sha256
        lines = [json.loads(text) for text in receipt.read_text().splitlines()]
        assert {(x["key"], x["version"], x["kind"] == "delete_marker") for x in lines} >= {
            (k, v, m) for k, v, m in under
        }
        assert all(x["verified"] and x["erased_at"] for x in lines)
        assert {x["kind"] for x in lines} == {"version", "delete_marker", "upload"}
    client.close()


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """moto's endpoint and a raw client of it, with this machine's AWS settings out of reach."""
    endpoint = s3_endpoint("moto")
    isolate_aws_env(monkeypatch)
    client = raw_client(endpoint)
    yield endpoint, client
    client.close()


def test_cli_erase_prints_the_receipt_hash_and_refuses_the_whole_bucket(
    moto: tuple[str, Any], tmp_path: Path
) -> None:
    endpoint, client = moto
    with versioned_bucket(endpoint, "us-east-1") as name:
        _arrange(client, name)
        before_outside = _outside(client, name)
        base = f"s3://{name}/"
        options = f"?endpoint_url={endpoint}"

        whole = _erase(base + options, "--yes")
        assert whole.returncode != 0
        assert "--whole-bucket" in whole.stderr
        assert len(whole.stderr.strip().splitlines()) == 1

        dry = _erase(f"{base}user-42{options}", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "a.txt" in dry.stdout
        assert "user-420" not in dry.stdout

        receipt = tmp_path / "r.jsonl"
        done = _erase(f"{base}user-42{options}", "--yes", "--receipt", str(receipt))
        assert done.returncode == 0, done.stderr
        digest = hashlib.sha256(receipt.read_bytes()).hexdigest()
        assert f"receipt sha256: {digest}" in done.stderr
        assert "verified" in done.stderr
        assert _versions(client, name, PREFIX) == set()
        assert _uploads(client, name, PREFIX) == set()
        assert _outside(client, name) == before_outside


def _erase(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "portacloud.cli", "erase", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def test_erase_all_profiles_reaches_s3_and_file_storages(
    moto: tuple[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint, client = moto
    local = tmp_path / "local"
    (local / "tenant" / "user-42").mkdir(parents=True)
    (local / "tenant" / "user-42" / "f.txt").write_bytes(b"local copy")
    (local / "tenant" / "user-420").mkdir()
    (local / "tenant" / "user-420" / "f.txt").write_bytes(b"someone else")
    with versioned_bucket(endpoint, "eu-west-1") as name:
        _arrange(client, name)
        before_outside = _outside(client, name)
        config = tmp_path / "portacloud.toml"
        config.write_text(
            f'[profiles.cloud]\nstorage = "s3://{name}?endpoint_url={endpoint}"\n'
            f'[profiles.laptop]\nstorage = "{(local / "tenant").as_uri()}"\n'
        )
        monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
        done = _erase("--all-profiles", "user-42", "--yes")
        assert done.returncode == 0, done.stderr
        assert done.stderr.count("verified: the listings find nothing left") == 2
        assert _versions(client, name, PREFIX) == set()
        assert _uploads(client, name, PREFIX) == set()
        assert _outside(client, name) == before_outside
    assert not (local / "tenant" / "user-42" / "f.txt").exists()
    assert (local / "tenant" / "user-420" / "f.txt").read_bytes() == b"someone else"

"""Migrations between two buckets of one S3 store copy inside the service.

Real servers: SeaweedFS (server-side copies with If-None-Match) and moto (no create-only copy:
the migration streams). The source driver's reads are made to fail, so a migration that
succeeds has moved no byte through this process; a different endpoint spelling or a different
access key must fall back to streaming.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cross_copy_helpers import cross_copy_objects as _objects
from cross_copy_helpers import make_unreadable as _unreadable
from cross_copy_helpers import receipt_rows as _receipt
from migrate_helpers import check_objects as _check
from migrate_helpers import load_objects as _load
from server_buckets import s3_bucket

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.errors import UnsupportedError
from portacloud.migrate import migrate
from portacloud.storage.cross_copy import can_copy_between, copy_between

pytestmark = pytest.mark.integration


def test_two_buckets_of_one_store_copy_in_the_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = _objects()
    with s3_bucket(monkeypatch) as a, s3_bucket(monkeypatch) as b, s3_bucket(monkeypatch) as c:
        _load(a, objects)
        with portacloud.open_bucket(a) as source:
            _unreadable(source, monkeypatch)
            result = migrate(source, b, journal=tmp_path / "b.sqlite", receipt=tmp_path / "b")
        assert result.ok, result.failures
        assert result.plan.server_side_copy
        assert (result.copied, result.verified, result.bytes_copied) == (51, 51, 0)
        _check(b, objects)
        # The same server under another spelling of its endpoint is not provably the same
        # store: the migration streams, and its receipt says the same.
        other = c.replace("127.0.0.1", "localhost")
        assert other != c
        streamed = migrate(a, other, journal=tmp_path / "c.sqlite", receipt=tmp_path / "c")
        assert streamed.ok, streamed.failures
        assert not streamed.plan.server_side_copy
        assert (streamed.copied, streamed.bytes_copied) == (
            51,
            sum(len(d) for d, _ in objects.values()),
        )
        receipt = _receipt(result.receipt)
        assert len(receipt) == 51
        assert all(crc for _, _, crc, _, _ in receipt)
        assert receipt == _receipt(streamed.receipt)
        _check(c, objects)


@pytest.mark.parametrize("engines", [("", ""), ("&engine=sdk", ""), ("", "&engine=sdk")])
def test_a_copy_across_buckets_is_create_only_and_says_when_the_source_is_gone(
    engines: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with s3_bucket(monkeypatch) as a, s3_bucket(monkeypatch) as b:
        src_url, dst_url = a + engines[0], b + engines[1]
        with portacloud.open_bucket(src_url) as src, portacloud.open_bucket(dst_url) as dst:
            src.put("k", b"one", metadata={"m": "1"})
            dst.put("taken", b"two")
            assert can_copy_between(src, dst)
            written = copy_between(src, dst, "k", "k2", if_none_match="*")
            assert (written.key, written.size, written.crc32c) == ("k2", 3, crc32c_hex(b"one"))
            assert dst.get("k2") == b"one"
            assert dict(dst.head("k2").metadata) == {"m": "1"}
            with pytest.raises(portacloud.errors.FailedPreconditionError):
                copy_between(src, dst, "k", "taken", if_none_match="*")
            assert dst.get("taken") == b"two"
            with pytest.raises(portacloud.errors.NotFoundError):
                copy_between(src, dst, "missing", "x", if_none_match="*")


@contextmanager
def _moto_buckets(monkeypatch: pytest.MonkeyPatch, count: int) -> Iterator[list[str]]:
    endpoint = os.environ.get("PORTACLOUD_TEST_MOTO_ENDPOINT")
    if not endpoint:
        if os.environ.get("CI") == "true":
            pytest.fail("moto is not running (PORTACLOUD_TEST_MOTO_ENDPOINT is unset)")
        pytest.skip("moto is not running (PORTACLOUD_TEST_MOTO_ENDPOINT is unset)")
    import boto3

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    names = [f"pcxcopy-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for name in names:
        client.create_bucket(Bucket=name)
    try:
        yield [f"s3://{name}?endpoint_url={endpoint}" for name in names]
    finally:
        for name in names:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for obj in page.get("Contents", []):
                    client.delete_object(Bucket=name, Key=obj["Key"])
            client.delete_bucket(Bucket=name)


def test_another_access_key_is_out_of_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    with _moto_buckets(monkeypatch, 2) as (a, b):
        with portacloud.open_bucket(a) as src, portacloud.open_bucket(b) as dst:
            src.put("k", b"bytes")
            assert can_copy_between(src, dst)
            # moto copies across buckets, but not create-only.
            assert copy_between(src, dst, "k", "k").size == 5
            with pytest.raises(UnsupportedError):
                copy_between(src, dst, "k", "k", if_none_match="*")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone-else")  # moto accepts any identity
        with portacloud.open_bucket(a) as src:
            monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
            with portacloud.open_bucket(b) as dst:
                assert not can_copy_between(src, dst)
                with pytest.raises(UnsupportedError, match="server-side"):
                    copy_between(src, dst, "k", "k2")


def test_without_create_only_copies_the_migration_streams(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = dict(list(_objects().items())[:10])
    with _moto_buckets(monkeypatch, 2) as (a, b):
        _load(a, objects)
        result = migrate(a, b, journal=tmp_path / "j.sqlite")
        assert result.ok, result.failures
        assert not result.plan.server_side_copy
        assert result.bytes_copied == sum(len(d) for d, _ in objects.values())
        _check(b, objects)

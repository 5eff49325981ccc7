"""Server-side copy keeps bytes, content type, metadata and the checksum."""

from __future__ import annotations

import pytest

import portacloud
from portacloud_conformance.support import payload, require


def test_copy_keeps_everything(bucket: portacloud.Bucket) -> None:
    require(bucket, "server_side_copy")
    data = payload(5000, seed=20)
    src = bucket.put("src", data, content_type="application/x-test", metadata={"team": "ml"})
    dst = bucket.copy("src", "dir/dst")
    assert dst.key == "dir/dst"
    head = bucket.head("dir/dst")
    assert bucket.get("dir/dst") == data
    assert head.size == len(data)
    assert head.content_type == "application/x-test"
    assert dict(head.metadata) == {"team": "ml"}
    assert head.crc32c == src.crc32c
    assert bucket.get("src") == data


def test_copy_missing_source_is_not_found(bucket: portacloud.Bucket) -> None:
    require(bucket, "server_side_copy")
    with pytest.raises(portacloud.NotFoundError):
        bucket.copy("missing", "dst")
    assert not bucket.exists("dst")


def test_copy_create_only(bucket: portacloud.Bucket) -> None:
    require(bucket, "copy_with_if_none_match")
    bucket.put("src", b"new")
    bucket.put("dst", b"old")
    with pytest.raises(portacloud.FailedPreconditionError):
        bucket.copy("src", "dst", if_none_match="*")
    assert bucket.get("dst") == b"old"
    bucket.copy("src", "fresh", if_none_match="*")
    assert bucket.get("fresh") == b"new"

"""Erase: everything under a prefix goes, nothing beside it, verified, with a receipt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import portacloud
from portacloud_conformance.support import require

PREFIX = "user-42/"
INSIDE = ("user-42/a", "user-42/deep/b", "user-42/deep/er/c")
OUTSIDE = ("user-420/x", "user-4", "other/user-42/y")


def _arrange(bucket: portacloud.Bucket) -> list[str]:
    """Objects under the prefix (one written twice) and beside it; returns the outside keys."""
    outside = list(OUTSIDE)
    if bucket.capabilities.key_file_and_prefix:
        outside.append("user-42")  # the prefix without its slash is another key
    for key in (*INSIDE, *outside):
        bucket.put(key, key.encode())
    bucket.put(INSIDE[0], b"written again")  # a noncurrent version where the bucket keeps them
    return sorted(outside)


def _keys(bucket: portacloud.Bucket) -> list[str]:
    return sorted(e.key for e in bucket.list())


def test_erase_removes_everything_under_the_prefix_and_nothing_else(
    bucket: portacloud.Bucket, tmp_path: Path
) -> None:
    outside = _arrange(bucket)
    result = bucket.erase(PREFIX, receipt=tmp_path / "erase.jsonl")
    assert _keys(bucket) == outside
    assert result.verified
    assert result.remaining == 0
    assert not result.dry_run
    assert {line.key for line in result.items} >= set(INSIDE)
    assert all(line.key.startswith(PREFIX) for line in result.items)
    assert bucket.erase(PREFIX, dry_run=True).items == ()


def test_erase_receipt_is_fingerprinted_json_lines(
    bucket: portacloud.Bucket, tmp_path: Path
) -> None:
    _arrange(bucket)
    result = bucket.erase(PREFIX, receipt=tmp_path / "erase.jsonl")
    assert result.receipt == str(tmp_path / "erase.jsonl")
    data = Path(result.receipt).read_bytes()
    assert hashlib.sha256(data).hexdigest() == result.receipt_sha256
    lines = [json.loads(text) for text in data.decode().splitlines()]
    assert len(lines) == len(result.items)
    for line in lines:
        assert set(line) == {"key", "kind", "version", "size", "crc32c", "erased_at", "verified"}
        assert line["verified"] is True
        assert line["erased_at"]
    sizes = {line["key"]: line["size"] for line in lines if line["kind"] != "delete_marker"}
    assert sizes["user-42/deep/b"] == len(b"user-42/deep/b")


def test_erase_dry_run_deletes_nothing(bucket: portacloud.Bucket) -> None:
    outside = _arrange(bucket)
    planned = bucket.erase(PREFIX, dry_run=True)
    assert planned.dry_run
    assert planned.receipt is None
    assert not planned.verified
    assert {line.key for line in planned.items} >= set(INSIDE)
    assert _keys(bucket) == sorted([*INSIDE, *outside])


def test_erase_refuses_the_empty_prefix(bucket: portacloud.Bucket) -> None:
    bucket.put("k", b"x")
    with pytest.raises(portacloud.InvalidArgumentError, match="whole_bucket"):
        bucket.erase("")
    assert bucket.exists("k")


def test_erase_whole_bucket_of_a_child_stays_in_the_child(
    bucket: portacloud.Bucket, tmp_path: Path
) -> None:
    bucket.put("child/a", b"1")
    bucket.put("child-sibling", b"2")
    result = bucket.child("child/").erase("", whole_bucket=True, receipt=tmp_path / "r.jsonl")
    assert result.verified
    assert [line.key for line in result.items if line.kind != "delete_marker"] == ["a"]
    assert _keys(bucket) == ["child-sibling"]


def test_erase_of_a_prefix_with_nothing_under_it_is_verified(
    bucket: portacloud.Bucket, tmp_path: Path
) -> None:
    result = bucket.erase("nothing-here/", receipt=tmp_path / "r.jsonl")
    assert result.verified
    assert result.items == ()
    assert Path(tmp_path / "r.jsonl").read_bytes() == b""


def test_erase_lists_versions(bucket: portacloud.Bucket, tmp_path: Path) -> None:
    require(bucket, "versions")
    _arrange(bucket)
    result = bucket.erase(PREFIX, receipt=tmp_path / "r.jsonl")
    assert result.verified
    assert not any("versions" in gap for gap in result.unverifiable)


def test_erase_aborts_unfinished_uploads(bucket: portacloud.Bucket, tmp_path: Path) -> None:
    require(bucket, "list_uploads")
    out = bucket.open("user-42/big", "wb")
    try:
        out.write(b"u" * (17 * 1024 * 1024))  # more than a part: the upload has begun
        result = bucket.erase(PREFIX, receipt=tmp_path / "r.jsonl")
        assert result.verified
        if result.uploads == 0:
            pytest.skip("the writer had not begun a multipart upload (part size over 17 MiB)")
        assert [line.key for line in result.items if line.kind == "upload"] == ["user-42/big"]
        assert result.uploads == 1
    finally:
        out.abort()  # the upload is gone already; aborting again is no error
    assert not bucket.exists("user-42/big")

"""Content type, user metadata and the other fields of ObjectInfo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import portacloud
from portacloud_conformance.support import require


def test_content_type_round_trip(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_content_type")
    bucket.put("typed", b"{}", content_type="application/json")
    assert bucket.head("typed").content_type == "application/json"


def test_user_metadata_round_trip_lower_cased(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_user_metadata")
    info = bucket.put("meta", b"x", metadata={"Owner": "data-team", "run-id": "42"})
    expected = {"owner": "data-team", "run-id": "42"}
    assert dict(info.metadata) == expected
    assert dict(bucket.head("meta").metadata) == expected
    listed = next(e for e in bucket.list() if e.key == "meta")
    assert isinstance(listed, portacloud.ObjectInfo)
    assert listed.size == 1


def test_streamed_write_keeps_metadata(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_user_metadata")
    with bucket.open("s", "wb", content_type="text/plain", metadata={"k": "v"}) as out:
        out.write(b"hello")
    head = bucket.head("s")
    assert dict(head.metadata) == {"k": "v"}
    if bucket.capabilities.write_with_content_type:
        assert head.content_type == "text/plain"


def test_head_matches_put(bucket: portacloud.Bucket) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    info = bucket.put("h", b"12345")
    head = bucket.head("h")
    assert head.etag == info.etag
    assert head.size == 5
    assert head.last_modified is not None
    assert head.last_modified.tzinfo is not None
    assert head.last_modified.utcoffset() == timedelta(0)
    assert head.last_modified > before


@pytest.mark.parametrize(
    "bad",
    [
        {"": "x"},
        {"with space": "x"},
        {"ok": "caf\u00e9"},
        {"ok": "line\nbreak"},
        {"portacloud-crc32c": "0"},
        {"a": "1", "A": "2"},
        {"n": 1},
        {"big": "x" * 3000},
    ],
)
def test_invalid_metadata_is_invalid_argument(
    bucket: portacloud.Bucket, bad: dict[str, str]
) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put("m", b"x", metadata=bad)
    assert not bucket.exists("m")

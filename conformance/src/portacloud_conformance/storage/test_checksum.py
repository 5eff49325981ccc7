"""The portable CRC32C: recorded on every write, returned by head, checked by reads."""

from __future__ import annotations

import google_crc32c

import portacloud
from portacloud_conformance.support import payload, payload_chunks, require

MULTIPART = 20 * 1024 * 1024


def _crc(data: bytes) -> str:
    return f"{google_crc32c.value(data):08x}"


def test_put_bytes_records_crc32c(bucket: portacloud.Bucket) -> None:
    data = payload(4096, seed=30)
    info = bucket.put("c", data)
    assert info.crc32c == _crc(data)
    assert bucket.head("c").crc32c == _crc(data)


def test_empty_object_crc32c(bucket: portacloud.Bucket) -> None:
    bucket.put("e", b"")
    assert bucket.head("e").crc32c == "00000000"


def test_streamed_multipart_records_crc32c(bucket: portacloud.Bucket) -> None:
    crc = 0
    for chunk in payload_chunks(MULTIPART, seed=31):
        crc = google_crc32c.extend(crc, chunk)
    info = bucket.put("mp", payload_chunks(MULTIPART, seed=31))
    assert info.crc32c == f"{crc:08x}"
    head = bucket.head("mp")
    assert head.crc32c == f"{crc:08x}"
    assert head.size == MULTIPART


def test_listing_carries_no_reserved_metadata(bucket: portacloud.Bucket) -> None:
    bucket.put(
        "c", b"abc", metadata={"a": "b"} if bucket.capabilities.write_with_user_metadata else None
    )
    head = bucket.head("c")
    assert not any(name.startswith("portacloud-") for name in head.metadata)


def test_copy_keeps_crc32c(bucket: portacloud.Bucket) -> None:
    require(bucket, "server_side_copy")
    data = payload(1234, seed=32)
    bucket.put("a", data)
    bucket.copy("a", "b")
    assert bucket.head("b").crc32c == _crc(data)


def test_full_read_verifies(bucket: portacloud.Bucket) -> None:
    data = payload(100_000, seed=33)
    bucket.put("v", data)
    assert bucket.get("v") == data
    with bucket.open("v") as f:
        assert f.read() == data

"""Writes: every input shape, empty and large objects, and failures that leave nothing."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator

import pytest

import portacloud
from portacloud_conformance.support import payload, payload_chunks, require

LARGE = 65 * 1024 * 1024  # over 64 MiB: crosses every provider's multipart threshold


def test_put_bytes_round_trip(bucket: portacloud.Bucket) -> None:
    data = payload(1000, seed=1)
    info = bucket.put("obj", data)
    assert info.key == "obj"
    assert info.size == 1000
    assert info.etag
    assert bucket.get("obj") == data


def test_put_empty_object(bucket: portacloud.Bucket) -> None:
    info = bucket.put("empty", b"")
    assert info.size == 0
    assert bucket.get("empty") == b""
    assert bucket.head("empty").size == 0
    assert bucket.exists("empty")


def test_put_bytearray_and_memoryview(bucket: portacloud.Bucket) -> None:
    bucket.put("ba", bytearray(b"abc"))
    bucket.put("mv", memoryview(b"defg"))
    assert bucket.get("ba") == b"abc"
    assert bucket.get("mv") == b"defg"


def test_put_file_object(bucket: portacloud.Bucket) -> None:
    data = payload(3 * 1024 * 1024 + 7, seed=2)
    info = bucket.put("from-file", io.BytesIO(data))
    assert info.size == len(data)
    assert bucket.get("from-file") == data


def test_put_iterator_of_chunks(bucket: portacloud.Bucket) -> None:
    chunks = [b"a" * 10, b"", b"b" * 5, b"c"]
    info = bucket.put("chunks", iter(chunks))
    assert info.size == 16
    assert bucket.get("chunks") == b"".join(chunks)


def test_overwrite_changes_etag(bucket: portacloud.Bucket) -> None:
    first = bucket.put("over", b"one")
    second = bucket.put("over", b"two")
    assert first.etag != second.etag
    assert bucket.get("over") == b"two"
    assert bucket.head("over").etag == second.etag


def test_put_str_is_invalid_argument(bucket: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put("text", "not bytes")  # type: ignore[arg-type]
    assert not bucket.exists("text")


def test_open_wb_streams_large_object(bucket: portacloud.Bucket) -> None:
    with bucket.open("large", "wb") as out:
        for chunk in payload_chunks(LARGE, seed=3):
            out.write(chunk)
    assert out.info is not None
    assert out.info.size == LARGE
    head = bucket.head("large")
    assert head.size == LARGE
    with bucket.open("large") as f:
        total = 0
        expected = payload_chunks(LARGE, seed=3)
        while block := f.read(1024 * 1024):
            assert block == next(expected)
            total += len(block)
    assert total == LARGE


def test_streaming_memory_is_bounded(bucket: portacloud.Bucket) -> None:
    require(bucket, "bounded_memory_streaming")
    tracemalloc.start()
    try:
        bucket.put("bounded", payload_chunks(LARGE, seed=4))
        with bucket.open("bounded") as f:
            while f.read(1024 * 1024):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < LARGE, f"peak traced memory {peak} bytes for a {LARGE}-byte object"


def _failing_source(good_bytes: int) -> Iterator[bytes]:
    yield from payload_chunks(good_bytes, seed=5)
    raise OSError("the source failed midway")


@pytest.mark.parametrize("size", [1024, 12 * 1024 * 1024], ids=["small", "multipart"])
def test_failed_streaming_put_leaves_no_object(bucket: portacloud.Bucket, size: int) -> None:
    with pytest.raises(OSError, match="midway"):
        bucket.put("failed", _failing_source(size))
    assert not bucket.exists("failed")
    assert [o.key for o in bucket.list()] == []


def test_exception_inside_open_wb_leaves_no_object(bucket: portacloud.Bucket) -> None:
    def produce() -> None:
        with bucket.open("aborted", "wb") as out:
            out.write(b"partial data")
            raise RuntimeError("the producer crashed")

    with pytest.raises(RuntimeError):
        produce()
    assert not bucket.exists("aborted")


def test_failed_overwrite_keeps_the_old_object(bucket: portacloud.Bucket) -> None:
    bucket.put("keep", b"old")
    with pytest.raises(OSError, match="midway"):
        bucket.put("keep", _failing_source(2048))
    assert bucket.get("keep") == b"old"

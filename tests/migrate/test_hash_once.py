"""Every byte a migration copies is hashed (CRC32C) once, not once per side.

The read side's hash, computed over the very bytes handed to the destination's write, is both
the check of the source's record and the destination's record. Counted by wrapping the
``google_crc32c`` functions that :mod:`portacloud.checksums` calls: every CRC32C portacloud
computes goes through them.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from server_buckets import s3_bucket

import portacloud
from portacloud import checksums
from portacloud.checksums import crc32c_hex
from portacloud.migrate import migrate
from portacloud.migrate.copy import SMALL_OBJECT

Tree = Callable[[str], tuple[str, portacloud.Bucket]]


class _Counting:
    """``google_crc32c`` with a count of the bytes each call hashes."""

    implementation = "c"

    def __init__(self) -> None:
        self.hashed = 0
        self._lock = threading.Lock()

    def _count(self, data: Any) -> None:
        with self._lock:
            self.hashed += memoryview(data).nbytes

    def value(self, data: Any) -> int:
        self._count(data)
        return int(google_crc32c.value(data))

    def extend(self, crc: int, data: Any) -> int:
        self._count(data)
        return int(google_crc32c.extend(crc, data))


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    counter = _Counting()
    monkeypatch.setattr(checksums, "google_crc32c", counter)
    return counter


def _fill(bucket: portacloud.Bucket) -> dict[str, bytes]:
    """Small objects (read whole) and two larger than SMALL_OBJECT (streamed)."""
    rng = random.Random(12)
    objects = {f"small/{i:03d}.bin": rng.randbytes(rng.randint(1, 64 * 1024)) for i in range(40)}
    objects["large/a.bin"] = rng.randbytes(SMALL_OBJECT + 1)
    objects["large/b.bin"] = rng.randbytes(SMALL_OBJECT + 3 * 1024 * 1024 + 17)
    for key, data in objects.items():
        bucket.put(key, data)
    return objects


def _check_copied(dst: portacloud.Bucket, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        info = dst.head(key)
        # The record is the CRC32C of the bytes stored, whichever side computed it.
        assert info.crc32c == crc32c_hex(data), key
        assert dst.get(key) == data, key


def test_file_to_file_hashes_each_byte_once(tree: Tree, counting: _Counting) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    counting.hashed = 0
    objects = _fill(src)
    assert counting.hashed == sum(map(len, objects.values()))  # the writes' own records

    counting.hashed = 0
    result = migrate(src_url, dst_url, concurrency=4)

    assert result.ok
    assert result.copied == result.verified == len(objects)
    assert counting.hashed == sum(map(len, objects.values()))
    counting.hashed = 0
    _check_copied(dst, objects)


def test_foreign_source_bytes_are_hashed_once_by_the_copy(
    tree: Tree, counting: _Counting, tmp_path: Path
) -> None:
    """Files another tool wrote record no CRC32C: the copy hashes them once for the
    destination's record; verification then reads the source once more (by design)."""
    src_url, _ = tree("foreign")
    dst_url, dst = tree("dst")
    rng = random.Random(3)
    objects = {"a.bin": rng.randbytes(1000), "big.bin": rng.randbytes(SMALL_OBJECT + 5)}
    for key, data in objects.items():
        (tmp_path / "foreign" / key).write_bytes(data)

    counting.hashed = 0
    result = migrate(src_url, dst_url, concurrency=2)

    assert result.ok
    assert result.copied == result.verified == len(objects)
    total = sum(map(len, objects.values()))
    assert counting.hashed == 2 * total  # one copy, one independent read of the source
    counting.hashed = 0
    _check_copied(dst, objects)


@pytest.mark.integration
def test_s3_to_file_hashes_each_byte_once(
    tree: Tree, counting: _Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    with s3_bucket(monkeypatch) as src_url:
        src = portacloud.open_bucket(src_url)
        objects = _fill(src)
        dst_url, dst = tree("dst")

        counting.hashed = 0
        result = migrate(src_url, dst_url, concurrency=4)

        assert result.ok
        assert result.copied == result.verified == len(objects)
        assert counting.hashed == sum(map(len, objects.values()))
        _check_copied(dst, objects)

"""A read that ends early without an error never reaches the destination.

The copy hashes each byte once and checks that hash against the source's record itself, so a
body cut short (a proxy that closes the connection cleanly, a server that lies about the end)
fails the check before the write can commit, small object or streamed, and a second read in
the same run copies the whole object.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from migrate_helpers import contents, fill

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.migrate import migrate
from portacloud.storage.bucket import Bucket
from portacloud.storage.driver import BucketDriver, DriverWriter, ReadStream, WriteOptions
from portacloud.storage.models import ObjectInfo

Tree = Callable[[str], tuple[str, portacloud.Bucket]]
MiB = 1024 * 1024
CUT = 1000


class _Cut:
    """A read stream whose last ``CUT`` bytes never come; it just ends."""

    def __init__(self, stream: ReadStream, size: int) -> None:
        self._stream = stream
        self._left = size - CUT

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            if self._left <= 0:
                return
            yield chunk[: self._left]
            self._left -= len(chunk)

    def close(self) -> None:
        self._stream.close()


class Cutting:
    """A source driver whose first whole read of each of ``keys`` ends ``CUT`` bytes early."""

    def __init__(self, inner: BucketDriver, keys: set[str]) -> None:
        self._inner = inner
        self._keys = keys
        self.cut: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, Any]:
        info, stream = self._inner.read(key, start=start, end=end)
        if key in self._keys and start == 0 and not self.cut[key]:
            self.cut[key] += 1
            return info, _Cut(stream, info.size)
        return info, stream


class _Recording:
    def __init__(self, inner: DriverWriter, key: str, commits: list[tuple[str, bytes]]) -> None:
        self._inner = inner
        self._key = key
        self._parts: list[bytes] = []
        self._commits = commits

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self._inner.write(data)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        self._commits.append((self._key, b"".join(self._parts)))
        return self._inner.commit(crc32c=crc32c)

    def abort(self) -> None:
        self._inner.abort()


class Recording:
    """A destination driver that keeps the bytes of every write it commits."""

    def __init__(self, inner: BucketDriver) -> None:
        self._inner = inner
        self.commits: list[tuple[str, bytes]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def open_writer(self, key: str, options: WriteOptions) -> Any:
        return _Recording(self._inner.open_writer(key, options), key, self.commits)


def test_a_read_cut_short_is_never_written(tree: Tree, tmp_path: Path) -> None:
    _, src = tree("src")
    _, dst = tree("dst")
    written = fill(src, 6, seed=41)
    written["big.bin"] = random.Random(4).randbytes(9 * MiB)
    src.put("big.bin", written["big.bin"])
    hit = {"d1/obj-00001.bin", "d3/obj-00003.bin", "big.bin"}
    cutting = Cutting(src._driver, hit)
    recording = Recording(dst._driver)

    result = migrate(
        Bucket(cutting, url=src.url),
        Bucket(recording, url=dst.url),
        journal=tmp_path / "j.sqlite",
    )

    assert set(cutting.cut) == hit
    # Every write committed held the whole object: the cut reads failed their check first.
    assert sorted(key for key, _ in recording.commits) == sorted(written)
    for key, data in recording.commits:
        assert crc32c_hex(data) == crc32c_hex(written[key]), key
    assert result.ok, result.failures
    assert (result.copied, result.verified) == (7, 7)
    assert contents(dst) == written

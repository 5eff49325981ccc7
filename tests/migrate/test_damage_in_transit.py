"""Bytes damaged on the way and answers lost on the way: never verified, settled in one run.

The source and destination are ``file://`` buckets seen through wrapping drivers that do what
networks do: flip a bit of a read's body, or lose the answer to a write (before or after it
was applied). Sources written by other tools carry no CRC32C, so nothing checks the bytes of
their reads at the end; the copy must not vouch for itself.
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
from portacloud.errors import UnavailableError
from portacloud.migrate import ObjectState, migrate
from portacloud.migrate.journal import Journal
from portacloud.migrate.receipt import read_receipt
from portacloud.storage.bucket import Bucket
from portacloud.storage.driver import BucketDriver, ReadStream, WriteOptions
from portacloud.storage.models import ObjectInfo

Tree = Callable[[str], tuple[str, portacloud.Bucket]]
MiB = 1024 * 1024


class _Flipped:
    """A read stream with one bit flipped at a random place of its first chunk."""

    def __init__(self, stream: ReadStream, rng: random.Random) -> None:
        self._stream = stream
        self._rng = rng

    def __iter__(self) -> Iterator[bytes]:
        damaged = False
        for chunk in self._stream:
            if damaged or not chunk:
                yield chunk
                continue
            damaged = True
            at = self._rng.randrange(len(chunk))
            flipped = chunk[at] ^ (1 << self._rng.randrange(8))
            yield chunk[:at] + bytes([flipped]) + chunk[at + 1 :]

    def close(self) -> None:
        self._stream.close()


class Damaging:
    """A driver whose first ``times`` whole reads of each of ``keys`` arrive damaged."""

    def __init__(
        self,
        inner: BucketDriver,
        keys: set[str],
        *,
        times: int = 1,
        then: Callable[[str], None] | None = None,
    ) -> None:
        self._inner = inner
        self._keys = keys
        self._times = times
        self._then = then
        self._rng = random.Random(7)
        self.damaged: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, Any]:
        info, stream = self._inner.read(key, start=start, end=end)
        if key in self._keys and self.damaged[key] < self._times:
            self.damaged[key] += 1
            if self._then is not None:
                self._then(key)
            return info, _Flipped(stream, self._rng)
        return info, stream


class _LosingWriter:
    def __init__(self, inner: Any, apply: bool) -> None:
        self._inner = inner
        self._apply = apply

    def write(self, data: bytes) -> None:
        self._inner.write(data)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        if self._apply:
            self._inner.commit(crc32c=crc32c)
        else:
            self._inner.abort()
        # What retry.call_conditional_with_retry raises when a retried conditional write finds
        # its condition broken, perhaps by its own first try.
        raise UnavailableError("the outcome of this conditional write is unknown", retryable=False)

    def abort(self) -> None:
        self._inner.abort()


class Losing:
    """A driver that loses the answer to the first write of each of ``keys``: after applying
    it (``apply``) or before."""

    def __init__(self, inner: BucketDriver, keys: set[str], *, apply: bool) -> None:
        self._inner = inner
        self._keys = set(keys)
        self._apply = apply
        self.lost: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def open_writer(self, key: str, options: WriteOptions) -> Any:
        writer = self._inner.open_writer(key, options)
        if key in self._keys:
            self._keys.discard(key)
            self.lost.append(key)
            return _LosingWriter(writer, self._apply)
        return writer


def _by_hand(root: Path, count: int, *, large: int = 0) -> dict[str, bytes]:
    """Files placed without portacloud: no CRC32C is recorded anywhere."""
    rng = random.Random(count)
    written: dict[str, bytes] = {}
    for i in range(count):
        data = rng.randbytes(rng.randint(2000, 40_000))
        written[f"foreign/{i:03d}.bin"] = data
    for i in range(large):
        written[f"foreign/large-{i}.bin"] = rng.randbytes(9 * MiB + i)
    for key, data in written.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return written


def _wrapped(bucket: portacloud.Bucket, wrapper: Any) -> Bucket:
    return Bucket(wrapper, url=bucket.url)


def test_foreign_bytes_damaged_on_the_way_are_copied_again_never_verified(
    tree: Tree, tmp_path: Path
) -> None:
    _, src = tree("src")
    dst_url, dst = tree("dst")
    truth = _by_hand(tmp_path / "src", 12, large=1)
    assert src.head("foreign/000.bin").crc32c is None
    hit = {"foreign/002.bin", "foreign/005.bin", "foreign/011.bin", "foreign/large-0.bin"}
    damaging = Damaging(src._driver, hit)
    journal = tmp_path / "j.sqlite"
    result = migrate(_wrapped(src, damaging), dst_url, journal=journal)

    assert set(damaging.damaged) == hit, "the copies' reads were damaged"
    # Each damaged copy was caught by a second read of the source and copied again.
    assert result.ok, result.failures
    assert result.verified == len(truth)
    assert contents(dst) == truth
    assert result.receipt is not None
    for line in read_receipt(Path(result.receipt)):
        assert line.crc32c == crc32c_hex(truth[line.key]), line.key


def test_foreign_bytes_damaged_on_every_read_fail_instead_of_verifying(
    tree: Tree, tmp_path: Path
) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    truth = _by_hand(tmp_path / "src", 6)
    bad = "foreign/003.bin"
    journal = tmp_path / "j.sqlite"
    result = migrate(
        _wrapped(src, Damaging(src._driver, {bad}, times=99)), dst_url, journal=journal
    )

    assert not result.ok
    assert [f.key for f in result.failures] == [bad]
    assert result.verified == len(truth) - 1
    assert result.receipt is None
    assert dst.get(bad) != truth[bad]  # what the damaged copies wrote: not verified
    with Journal(journal, src=src_url, dst=dst_url) as book:
        row = book.get(bad)
        assert row is not None
        assert row.state is ObjectState.FAILED
        assert row.src_crc32c is None, "a checksum no second read confirmed is not kept"
    # With the damage gone, the next run copies it again and verifies it.
    again = migrate(src, dst_url, journal=journal)
    assert again.ok, again.failures
    assert contents(dst) == truth


def test_a_damaged_read_of_a_checksummed_object_is_retried_in_the_same_run(
    tree: Tree, tmp_path: Path
) -> None:
    _, src = tree("src")
    dst_url, dst = tree("dst")
    written = fill(src, 10, seed=31)
    with src.open("big.bin", "wb") as out:
        out.write(random.Random(3).randbytes(9 * MiB))
    hit = {"d1/obj-00001.bin", "d4/obj-00004.bin", "big.bin"}
    damaging = Damaging(src._driver, hit)
    result = migrate(_wrapped(src, damaging), dst_url, journal=tmp_path / "j.sqlite")

    assert set(damaging.damaged) == hit
    assert result.ok, result.failures
    assert (result.copied, result.verified) == (11, 11)
    assert contents(dst) == {**written, "big.bin": src.get("big.bin")}


def test_a_write_whose_answer_was_lost_after_it_was_applied_counts_as_copied(
    tree: Tree, tmp_path: Path
) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    written = fill(src, 8, seed=32)
    losing = Losing(dst._driver, {"d2/obj-00002.bin", "d5/obj-00005.bin"}, apply=True)
    journal = tmp_path / "j.sqlite"
    result = migrate(src_url, _wrapped(dst, losing), journal=journal)

    assert len(losing.lost) == 2
    assert result.ok, result.failures
    assert (result.copied, result.verified) == (8, 8)
    assert contents(dst) == written
    with Journal(journal, src=src_url, dst=dst_url) as book:
        rows = [book.get(key) for key in losing.lost]
        assert all(r is not None and r.copies == 1 for r in rows), rows


def test_a_write_whose_answer_was_lost_before_it_was_applied_is_tried_again(
    tree: Tree, tmp_path: Path
) -> None:
    src_url, src = tree("src")
    _, dst = tree("dst")
    written = fill(src, 8, seed=33)
    with src.open("big.bin", "wb") as out:
        out.write(random.Random(4).randbytes(9 * MiB))
    losing = Losing(dst._driver, {"d3/obj-00003.bin", "big.bin"}, apply=False)
    result = migrate(src_url, _wrapped(dst, losing), journal=tmp_path / "j.sqlite")

    assert sorted(losing.lost) == ["big.bin", "d3/obj-00003.bin"]
    assert result.ok, result.failures
    assert (result.copied, result.verified) == (9, 9)
    assert contents(dst) == {**written, "big.bin": src.get("big.bin")}


def test_a_source_replaced_under_a_damaged_read_is_copied_in_the_same_run(
    tree: Tree, tmp_path: Path
) -> None:
    _, src = tree("src")
    dst_url, dst = tree("dst")
    written = fill(src, 4, seed=34)
    key = "d2/obj-00002.bin"

    def replace_it(damaged_key: str) -> None:
        # The bytes on their way are the old version's (damaged); the source holds a new one
        # by the time the copy asks, so the copy phase itself plans the key again.
        src.put(damaged_key, b"the version written during the copy")

    damaging = Damaging(src._driver, {key}, then=replace_it)
    result = migrate(_wrapped(src, damaging), dst_url, journal=tmp_path / "j.sqlite")

    assert damaging.damaged[key] == 1
    assert result.ok, result.failures
    assert result.replanned == 1
    assert result.verified == 4
    assert contents(dst) == {**written, key: b"the version written during the copy"}

"""Reads: whole objects, Python-slice ranges, and seekable streaming readers."""

from __future__ import annotations

import io

import pytest

import portacloud
from portacloud_conformance.support import payload

DATA = payload(10_000, seed=10)


@pytest.fixture
def stored(bucket: portacloud.Bucket) -> portacloud.Bucket:
    bucket.put("data", DATA)
    return bucket


@pytest.mark.parametrize(
    "rng",
    [
        (0, 10),
        (10, 20),
        (9_990, None),
        (0, None),
        (None, 100),
        (5_000, 5_001),
        (-1, None),
        (-100, None),
        (-20_000, None),
        (0, -1),
        (-100, -50),
        (9_999, 20_000),
        (10_000, None),
        (20_000, None),
        (20_000, 30_000),
        (500, 500),
        (600, 500),
    ],
)
def test_range_follows_python_slices(
    stored: portacloud.Bucket, rng: tuple[int | None, int | None]
) -> None:
    assert stored.get("data", range=rng) == DATA[rng[0] : rng[1]]


def test_range_on_empty_object(bucket: portacloud.Bucket) -> None:
    bucket.put("empty", b"")
    assert bucket.get("empty", range=(0, 10)) == b""
    assert bucket.get("empty", range=(-5, None)) == b""


@pytest.mark.parametrize("bad", [(1.5, None), ("0", 5), (0, 1, 2), [0, 5], (True, None)])
def test_malformed_range_is_invalid_argument(stored: portacloud.Bucket, bad: object) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        stored.get("data", range=bad)  # type: ignore[arg-type]


def test_open_rb_reads_everything(stored: portacloud.Bucket) -> None:
    with stored.open("data") as f:
        assert f.read() == DATA


def test_open_rb_seek_and_partial_reads(stored: portacloud.Bucket) -> None:
    with stored.open("data") as f:
        assert f.read(10) == DATA[:10]
        f.seek(5_000)
        assert f.read(100) == DATA[5_000:5_100]
        f.seek(-10, io.SEEK_END)
        assert f.read() == DATA[-10:]
        assert f.read() == b""
        f.seek(0)
        assert f.read(3) == DATA[:3]
        assert f.tell() == 3


def test_open_rb_readinto_loop(stored: portacloud.Bucket) -> None:
    buf = bytearray(777)
    out = bytearray()
    with stored.open("data") as f:
        while n := f.readinto(buf):
            out += buf[:n]
    assert bytes(out) == DATA


def test_open_bad_mode_is_invalid_argument(stored: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        stored.open("data", "r")  # type: ignore[call-overload]

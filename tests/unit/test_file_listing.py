"""A file:// listing describes each key exactly as ``head`` does, without opening any file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_file_layout import _no_xattrs

import portacloud
from portacloud.providers import file_meta, local


def _fill(root: Path, *, xattrs: bool) -> None:
    with portacloud.open_bucket(root.as_uri()) as bucket:
        bucket.put("a/ours.bin", b"written by portacloud", content_type="text/x-ours")
        bucket.put("a/edited.bin", b"then edited in place by another tool")
        bucket.put("b/replaced.bin", b"then replaced by another tool")
    (root / "a" / "foreign.txt").write_bytes(b"placed by another tool")
    with open(root / "a" / "edited.bin", "r+b") as f:
        f.write(b"THEN")
    other = root / "b" / "other.bin"
    other.write_bytes(b"a different file")
    if xattrs:  # a record of another version: copied with the file by a careless tool
        record = os.getxattr(root / "b" / "replaced.bin", file_meta.META_XATTR)
        os.setxattr(other, file_meta.META_XATTR, record)
    os.replace(other, root / "b" / "replaced.bin")  # a sidecar is left behind, stale


@pytest.fixture(params=["xattr", "sidecar"])
def root(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    xattrs = request.param == "xattr"
    if not xattrs:
        _no_xattrs(monkeypatch)
    _fill(tmp_path, xattrs=xattrs)
    return tmp_path


def test_a_listing_says_what_stat_says(root: Path) -> None:
    with portacloud.open_bucket(root.as_uri()) as bucket:
        listed = {info.key: info for info in bucket.list()}
        assert sorted(listed) == ["a/edited.bin", "a/foreign.txt", "a/ours.bin", "b/replaced.bin"]
        for key, info in listed.items():
            assert info == bucket.head(key), key
        assert listed["a/ours.bin"].content_type == "text/x-ours"
        assert listed["a/ours.bin"].checksums
        for key in ("a/edited.bin", "a/foreign.txt", "b/replaced.bin"):
            assert not listed[key].checksums, key


def test_a_listing_opens_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with portacloud.open_bucket(tmp_path.as_uri()) as bucket:
        for i in range(20):
            bucket.put(f"d/{i:02d}", b"x" * i)
        opened: list[str] = []
        real_open = os.open

        def counted(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
            if os.path.isfile(path):
                opened.append(os.fsdecode(path))
            return real_open(path, flags, mode, **kwargs)

        monkeypatch.setattr(local.os, "open", counted)
        infos = list(bucket.list())
    assert len(infos) == 20
    assert all(info.checksums for info in infos)
    assert opened == []

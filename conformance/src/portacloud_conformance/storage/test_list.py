"""Listing: order, prefixes, delimiters, start_after and pagination under change."""

from __future__ import annotations

import pytest

import portacloud
from portacloud_conformance.support import require

KEYS = ["a", "a-b", "a/b", "a/c/d", "a/c/e", "b", "b/x", "c"]


def _keys(entries: object) -> list[str]:
    return [e.key for e in entries]  # type: ignore[attr-defined]


@pytest.fixture
def filled(bucket: portacloud.Bucket) -> portacloud.Bucket:
    for key in KEYS:
        if bucket.capabilities.key_file_and_prefix or key not in ("a", "b"):
            bucket.put(key, key.encode())
    return bucket


def _present(bucket: portacloud.Bucket) -> list[str]:
    return [k for k in KEYS if bucket.capabilities.key_file_and_prefix or k not in ("a", "b")]


def test_empty_listing(bucket: portacloud.Bucket) -> None:
    assert list(bucket.list()) == []


def test_list_all_in_order(filled: portacloud.Bucket) -> None:
    entries = list(filled.list())
    assert _keys(entries) == sorted(_present(filled))
    assert all(isinstance(e, portacloud.ObjectInfo) for e in entries)
    sizes = {e.key: e.size for e in entries if isinstance(e, portacloud.ObjectInfo)}
    assert sizes["a/c/d"] == len(b"a/c/d")


def test_list_prefix(filled: portacloud.Bucket) -> None:
    assert _keys(filled.list("a/")) == ["a/b", "a/c/d", "a/c/e"]
    assert _keys(filled.list("a/c/")) == ["a/c/d", "a/c/e"]
    assert _keys(filled.list("zzz")) == []


def test_list_delimiter(filled: portacloud.Bucket) -> None:
    require(filled, "list_with_delimiter")
    top = list(filled.list(delimiter="/"))
    prefixes = [e.key for e in top if isinstance(e, portacloud.PrefixInfo)]
    objects = [e.key for e in top if isinstance(e, portacloud.ObjectInfo)]
    assert prefixes == ["a/", "b/"]
    assert objects == [k for k in ["a", "a-b", "b", "c"] if k in _present(filled)]
    nested = list(filled.list("a/", delimiter="/"))
    assert [e.key for e in nested if isinstance(e, portacloud.PrefixInfo)] == ["a/c/"]
    assert [e.key for e in nested if isinstance(e, portacloud.ObjectInfo)] == ["a/b"]


def test_list_delimiter_with_small_pages(filled: portacloud.Bucket) -> None:
    require(filled, "list_with_delimiter")
    paged = _keys(filled.list(delimiter="/", page_size=1))
    assert len(paged) == len(set(paged))
    assert sorted(paged) == sorted(_keys(filled.list(delimiter="/")))
    if filled.capabilities.list_sorted:
        assert paged == sorted(paged)


def test_list_start_after(filled: portacloud.Bucket) -> None:
    require(filled, "list_sorted")
    present = sorted(_present(filled))
    assert _keys(filled.list(start_after="a/b")) == [k for k in present if k > "a/b"]
    assert _keys(filled.list(start_after="c")) == []


@pytest.mark.parametrize("page_size", [1, 2, 3, 1000])
def test_pagination_returns_everything_once(filled: portacloud.Bucket, page_size: int) -> None:
    keys = _keys(filled.list(page_size=page_size))
    assert len(keys) == len(set(keys)), "a key was listed twice"
    assert sorted(keys) == sorted(_present(filled))
    if filled.capabilities.list_sorted:
        assert keys == sorted(keys)


def test_pagination_consistent_after_inserts_and_deletes(bucket: portacloud.Bucket) -> None:
    require(bucket, "list_sorted")
    for i in range(0, 20, 2):
        bucket.put(f"k{i:02d}", b"x")
    seen: list[str] = []
    listing = bucket.list(page_size=3)
    for _ in range(4):
        seen.append(next(listing).key)
    # Between pages: insert before and after the cursor, delete an unseen key and a seen one.
    bucket.put("k01", b"x")
    bucket.put("k15", b"x")
    bucket.delete("k12")
    bucket.delete("k00")
    seen.extend(e.key for e in listing)
    assert seen == sorted(seen), "keys must come in order, without repeats"
    assert len(seen) == len(set(seen))
    assert seen[:4] == ["k00", "k02", "k04", "k06"]
    assert "k15" in seen, "a key inserted after the cursor must be listed"
    assert "k12" not in seen, "a key deleted before it was reached must not be listed"
    for key in ("k08", "k10", "k14", "k16", "k18"):
        assert key in seen, f"{key} existed throughout and was skipped"


@pytest.mark.parametrize("bad", [0, 1001, -1, 2.5])
def test_bad_page_size_is_invalid_argument(bucket: portacloud.Bucket, bad: object) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        list(bucket.list(page_size=bad))  # type: ignore[arg-type]


def test_list_delimiter_forgets_emptied_prefixes(bucket: portacloud.Bucket) -> None:
    require(bucket, "list_with_delimiter")
    require(bucket, "list_prefixes_exact")
    bucket.put("gone/x", b"1")
    bucket.put("kept/y", b"2")
    bucket.delete("gone/x")
    prefixes = [e.key for e in bucket.list(delimiter="/") if isinstance(e, portacloud.PrefixInfo)]
    assert prefixes == ["kept/"]

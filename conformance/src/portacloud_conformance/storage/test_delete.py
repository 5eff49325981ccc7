"""Deletes: idempotent single deletes and batches."""

from __future__ import annotations

import pytest

import portacloud


def test_delete_then_not_found(bucket: portacloud.Bucket) -> None:
    bucket.put("gone", b"x")
    bucket.delete("gone")
    assert not bucket.exists("gone")
    with pytest.raises(portacloud.NotFoundError):
        bucket.get("gone")


def test_delete_missing_is_not_an_error(bucket: portacloud.Bucket) -> None:
    bucket.delete("never-existed")
    bucket.delete("never-existed")


def test_delete_many(bucket: portacloud.Bucket) -> None:
    keys = [f"many/{i:03d}" for i in range(25)]
    for key in keys:
        bucket.put(key, b"x")
    bucket.put("keep", b"y")
    bucket.delete_many([*keys[:20], "missing-1", "missing-2"])
    assert [e.key for e in bucket.list()] == ["keep", *keys[20:]]


def test_delete_many_rejects_a_single_string(bucket: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.delete_many("abc")

"""Create-only and compare-and-swap writes, and their races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import portacloud
from portacloud_conformance.support import require

RACERS = 8


def test_create_only_new_key(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_none_match")
    bucket.put("new", b"1", if_none_match="*")
    assert bucket.get("new") == b"1"


def test_create_only_existing_key_fails(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_none_match")
    bucket.put("taken", b"first")
    with pytest.raises(portacloud.FailedPreconditionError):
        bucket.put("taken", b"second", if_none_match="*")
    assert bucket.get("taken") == b"first"


def test_create_only_streamed(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_none_match")
    bucket.put("taken", b"first")
    with (
        pytest.raises(portacloud.FailedPreconditionError),
        bucket.open("taken", "wb", if_none_match="*") as out,
    ):
        out.write(b"second")
    assert bucket.get("taken") == b"first"


def test_if_match_current_etag_succeeds(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_match")
    first = bucket.put("cas", b"v1")
    second = bucket.put("cas", b"v2", if_match=first.etag)
    assert bucket.get("cas") == b"v2"
    assert second.etag != first.etag


def test_stale_if_match_fails(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_match")
    first = bucket.put("cas", b"v1")
    bucket.put("cas", b"v2")
    with pytest.raises(portacloud.FailedPreconditionError):
        bucket.put("cas", b"v3", if_match=first.etag)
    assert bucket.get("cas") == b"v2"


def test_if_match_on_missing_key_fails(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_match")
    other = bucket.put("other", b"x")
    with pytest.raises((portacloud.FailedPreconditionError, portacloud.NotFoundError)):
        bucket.put("missing", b"v", if_match=other.etag)
    assert not bucket.exists("missing")


def test_bad_conditions_are_invalid_argument(bucket: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put("k", b"x", if_none_match="etag")
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put("k", b"x", if_none_match="*", if_match="e")
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put("k", b"x", if_match="")


def _race(bucket: portacloud.Bucket, attempt: object) -> list[bool]:
    def one(i: int) -> bool:
        try:
            attempt(i)  # type: ignore[operator]
        except portacloud.FailedPreconditionError:
            return False
        return True

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


def test_create_only_race_has_exactly_one_winner(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_none_match")
    for round_ in range(3):
        key = f"race-{round_}"
        wins = _race(
            bucket, lambda i, k=key: bucket.put(k, f"racer {i}".encode(), if_none_match="*")
        )
        assert sum(wins) == 1, f"round {round_}: {sum(wins)} winners"
        assert bucket.get(key) == f"racer {wins.index(True)}".encode()


def test_compare_and_swap_race_has_exactly_one_winner(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_match")
    etag = bucket.put("counter", b"initial").etag
    # Every racer writes bytes unlike the initial ones: where the etag is a hash of the
    # content (S3), rewriting identical bytes would keep the etag and let a second racer win.
    wins = _race(bucket, lambda i: bucket.put("counter", f"racer {i}".encode(), if_match=etag))
    assert sum(wins) == 1
    assert bucket.get("counter") == f"racer {wins.index(True)}".encode()

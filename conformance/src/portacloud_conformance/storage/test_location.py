"""Location: the region a backend reports, and region policies that refuse before writing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import pytest

import portacloud
from portacloud.errors import PermissionDeniedError
from portacloud.profiles import Profile
from portacloud_conformance.support import require, require_missing

#: Opens the test's prefix again, bound by a region policy.
Policed = Callable[..., portacloud.Bucket]


@pytest.fixture
def policed(
    storage_url: str, root_bucket: portacloud.Bucket, bucket: portacloud.Bucket
) -> Iterator[Policed]:
    opened: list[portacloud.Bucket] = []

    def open_under(
        *regions: str,
        residency: Literal["writes", "strict"] = "writes",
        unknown_region: Literal["deny", "allow"] = "deny",
    ) -> portacloud.Bucket:
        profile = Profile(
            name="conformance-policy",
            regions=regions,
            residency=residency,
            unknown_region=unknown_region,
        )
        root = portacloud.open_bucket(storage_url, profile=profile)
        opened.append(root)
        return root.child(bucket.prefix[len(root_bucket.prefix) :])

    yield open_under
    for root in opened:
        root.close()


def _outside(bucket: portacloud.Bucket) -> str:
    """A pattern that excludes the bucket: its region's opposite, or anything at all."""
    return "nowhere-*" if bucket.region() is None else f"not-{bucket.region()}"


def test_bucket_reports_its_region(bucket: portacloud.Bucket) -> None:
    require(bucket, "location")
    region = bucket.region()
    assert isinstance(region, str)
    assert region
    assert region == region.lower()
    assert bucket.region() == region


def test_region_is_unknown_where_the_backend_cannot_tell(bucket: portacloud.Bucket) -> None:
    require_missing(bucket, "location")
    assert bucket.region() is None


def test_a_policy_naming_the_bucket_region_allows_everything(
    bucket: portacloud.Bucket, policed: Policed
) -> None:
    require(bucket, "location")
    region = bucket.region()
    assert region is not None
    inside = policed(region.upper(), residency="strict")  # patterns ignore case
    inside.put("k", b"inside")
    assert inside.get("k") == b"inside"
    assert [e.key for e in inside.list()] == ["k"]
    inside.delete("k")


def test_writes_outside_the_policy_are_refused_before_any_byte(
    bucket: portacloud.Bucket, policed: Policed
) -> None:
    outside = policed(_outside(bucket))
    with pytest.raises(PermissionDeniedError) as refused:
        outside.put("k", b"never written")
    message = str(refused.value)
    assert "conformance-policy" in message
    assert _outside(bucket) in message
    assert (bucket.region() or "does not report its region") in message
    with pytest.raises(PermissionDeniedError):
        outside.put("streamed", iter([b"a" * 1024, b"b"]))
    with pytest.raises(PermissionDeniedError):
        outside.open("opened", "wb")
    bucket.put("src", b"x")
    if bucket.capabilities.server_side_copy:
        with pytest.raises(PermissionDeniedError):
            outside.copy("src", "copied")
    assert sorted(e.key for e in bucket.list()) == ["src"]


def test_signed_put_urls_are_refused_outside_the_policy(
    bucket: portacloud.Bucket, policed: Policed
) -> None:
    require(bucket, "presign_write")
    with pytest.raises(PermissionDeniedError):
        policed(_outside(bucket)).signed_url("k", method="PUT")


def test_reads_outside_the_policy_are_refused_only_when_strict(
    bucket: portacloud.Bucket, policed: Policed
) -> None:
    bucket.put("k", b"outside")
    loose = policed(_outside(bucket))
    assert loose.get("k") == b"outside"
    assert [e.key for e in loose.list()] == ["k"]
    strict = policed(_outside(bucket), residency="strict")
    for read in (lambda: strict.get("k"), lambda: strict.head("k"), lambda: list(strict.list())):
        with pytest.raises(PermissionDeniedError):
            read()
    strict.delete("k")  # removing data from the wrong place is never refused
    assert not bucket.exists("k")


def test_unknown_regions_follow_the_profile_setting(
    bucket: portacloud.Bucket, policed: Policed
) -> None:
    require_missing(bucket, "location")
    with pytest.raises(PermissionDeniedError, match="unknown_region"):
        policed("eu-*").put("k", b"denied")
    policed("eu-*", unknown_region="allow").put("k", b"allowed")
    assert bucket.get("k") == b"allowed"

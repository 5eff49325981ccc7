"""``Bucket.erase`` against drivers that misbehave: a prefix filter the server ignores, deletes
that do not take, uploads that a version listing does not show."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

import portacloud
from portacloud.providers.memory import MemoryDriver
from portacloud.retry import RetryPolicy
from portacloud.storage.bucket import Bucket
from portacloud.storage.driver import ListOptions, PendingUpload, StoredVersion


class VersionedMemory(MemoryDriver):
    """A memory bucket that lists "versions" with a prefix filter that does nothing."""

    capabilities = MemoryDriver.capabilities.model_copy(
        update={"versions": True, "list_uploads": True}
    )

    def __init__(self, name: str, *, deletes_work: bool = True) -> None:
        super().__init__(name)
        self.deletes_work = deletes_work
        self.deleted: list[str] = []
        self.uploads = [PendingUpload(key="user-42/up", upload_id="u1")]
        self.aborted: list[str] = []
        self.calls = 0

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        self.calls += 1
        keys = [e.key for e in self.list_page(ListOptions()).objects]
        return [StoredVersion(key=k, version="v1", size=1) for k in keys]  # prefix ignored

    def delete_versions(self, versions: Sequence[StoredVersion]) -> None:
        for version in versions:
            self.deleted.append(version.key)
            if self.deletes_work:
                self.delete(version.key)

    def list_uploads(self, prefix: str) -> list[PendingUpload]:
        return list(self.uploads)  # prefix ignored too

    def abort_upload(self, upload: PendingUpload) -> None:
        self.aborted.append(upload.upload_id)
        self.uploads = [u for u in self.uploads if u != upload]


def _bucket(driver: VersionedMemory, **kwargs: object) -> Bucket:
    return Bucket(driver, url="memory://erase-test", **kwargs)  # type: ignore[arg-type]


def _filled(deletes_work: bool = True) -> VersionedMemory:
    driver = VersionedMemory(f"erase-{uuid.uuid4().hex}", deletes_work=deletes_work)
    driver.uploads.append(PendingUpload(key="user-420/up", upload_id="u2"))
    bucket = _bucket(driver)
    for key in ("user-42/a", "user-42/b/c", "user-420/x", "user-42", "user-4"):
        bucket.put(key, b"x")
    return driver


def test_keys_outside_the_prefix_are_never_deleted_whatever_the_server_lists(
    tmp_path: Path,
) -> None:
    driver = _filled()
    result = _bucket(driver).erase("user-42/", receipt=tmp_path / "r.jsonl")
    assert sorted(driver.deleted) == ["user-42/a", "user-42/b/c"]
    assert driver.aborted == ["u1"]
    assert result.verified
    assert sorted(e.key for e in _bucket(driver).list()) == ["user-4", "user-42", "user-420/x"]


def test_deletes_that_do_not_take_are_reported_not_verified(tmp_path: Path) -> None:
    driver = _filled(deletes_work=False)
    result = _bucket(driver).erase("user-42/", receipt=tmp_path / "r.jsonl")
    assert not result.verified
    assert result.remaining == 2
    assert driver.calls == 4  # three rounds of delete-and-list after the first listing
    lines = {line.key: line for line in result.items}
    assert not lines["user-42/a"].verified
    assert lines["user-42/up"].verified  # the upload was aborted for real
    assert (tmp_path / "r.jsonl").read_text().count('"verified":false') == 2


def test_a_child_bucket_erases_relative_to_its_prefix(tmp_path: Path) -> None:
    driver = _filled()
    child = _bucket(driver).child("user-42/")
    with pytest.raises(portacloud.InvalidArgumentError, match="whole_bucket"):
        child.erase("")
    result = child.erase("", whole_bucket=True, receipt=tmp_path / "r.jsonl")
    assert sorted(line.key for line in result.items) == ["a", "b/c", "up"]
    assert result.url == "memory://erase-test/user-42/"


def test_bad_prefixes_are_refused_before_any_listing() -> None:
    driver = _filled()
    bucket = _bucket(driver)
    for prefix in (None, b"user-42/", "x" * 2000 + "/"):
        with pytest.raises(portacloud.InvalidArgumentError):
            bucket.erase(prefix)  # type: ignore[arg-type]
    assert driver.calls == 0


def test_one_attempt_means_one_listing_call(tmp_path: Path) -> None:
    driver = _filled()
    _bucket(driver, retry=RetryPolicy(attempts=1)).erase("user-42/", receipt=tmp_path / "r")
    assert driver.calls == 2  # the erase's listing and the verifying one

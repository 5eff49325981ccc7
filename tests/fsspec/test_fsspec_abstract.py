"""fsspec's own abstract test suite (shipped in the fsspec wheel) against every target.

Fixtures in the style of s3fs's ``tests/derived/``: ``fs`` is the filesystem on a fresh
bucket, ``fs_path`` a folder in it, and object stores have no empty directories. A test that
a target cannot pass because of a declared capability is skipped with that capability named.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)
from fsspec_targets import open_target_fs

from portacloud.fsspec import PortaCloudFileSystem


# The conformance stage of `make test` runs this same suite (portacloud_conformance's
# test_fsspec) on every server target; here it runs on the in-process targets, with the
# filesystem opened from a storage URL rather than from a Bucket.
@pytest.fixture(scope="class", params=["memory", "file"])
def target_fs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortaCloudFileSystem]:
    yield from open_target_fs(request.param, tmp_path_factory)


class PortaCloudFixtures(AbstractFixtures):  # type: ignore[misc]
    """The fixtures fsspec's abstract classes ask a downstream filesystem for."""

    @pytest.fixture
    def fs(self, target_fs: PortaCloudFileSystem) -> Iterator[PortaCloudFileSystem]:
        yield target_fs
        # Each test starts from an empty bucket, whatever the last one left behind.
        leftovers = target_fs.find("")
        if leftovers:
            target_fs.rm(leftovers)

    @pytest.fixture
    def fs_path(self) -> str:
        return "abstract"

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


def _needs_create_only(fs: PortaCloudFileSystem) -> None:
    if not fs.bucket.capabilities.write_with_if_none_match:
        pytest.skip(f"capability write_with_if_none_match is false on {fs.bucket.provider}")


class TestPortaCloudCopy(AbstractCopyTests, PortaCloudFixtures):  # type: ignore[misc]
    pass


class TestPortaCloudGet(AbstractGetTests, PortaCloudFixtures):  # type: ignore[misc]
    pass


class TestPortaCloudPut(AbstractPutTests, PortaCloudFixtures):  # type: ignore[misc]
    pass


class TestPortaCloudOpen(AbstractOpenTests, PortaCloudFixtures):  # type: ignore[misc]
    @pytest.fixture(autouse=True)
    def _create_only(self, fs: PortaCloudFileSystem) -> None:
        _needs_create_only(fs)


class TestPortaCloudPipe(AbstractPipeTests, PortaCloudFixtures):  # type: ignore[misc]
    @pytest.fixture(autouse=True)
    def _create_only(self, fs: PortaCloudFileSystem) -> None:
        _needs_create_only(fs)

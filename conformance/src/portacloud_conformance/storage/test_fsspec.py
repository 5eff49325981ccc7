"""fsspec's own abstract test suite, through ``portacloud.fsspec``, on the bucket under test.

The suite ships in the fsspec wheel (``fsspec.tests.abstract``); these classes give it its
fixtures in the style of s3fs's ``tests/derived/``. Each test gets a fresh prefix of the bucket
under test; object stores have no empty directories. Skipped as a whole where fsspec is not
installed (``pip install "portacloud[fsspec]"``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import portacloud
from portacloud_conformance.support import cleanup_prefix, require

abstract: Any = pytest.importorskip("fsspec.tests.abstract", reason="fsspec is not installed")


class _PortaCloudFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self, root_bucket: portacloud.Bucket) -> Iterator[Any]:
        from portacloud.fsspec import filesystem

        child = root_bucket.child(f"conformance-fsspec-{uuid.uuid4().hex[:12]}/")
        # The fsspec face wraps a blocking Bucket, whichever face the run tests.
        yield filesystem(getattr(child, "blocking", child))
        cleanup_prefix(child)

    @pytest.fixture
    def fs_path(self) -> str:
        return "abstract"

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


class TestFsspecCopy(abstract.AbstractCopyTests, _PortaCloudFixtures):  # type: ignore[misc]
    pass


class TestFsspecGet(abstract.AbstractGetTests, _PortaCloudFixtures):  # type: ignore[misc]
    pass


class TestFsspecPut(abstract.AbstractPutTests, _PortaCloudFixtures):  # type: ignore[misc]
    pass


class TestFsspecOpen(abstract.AbstractOpenTests, _PortaCloudFixtures):  # type: ignore[misc]
    @pytest.fixture(autouse=True)
    def _create_only(self, root_bucket: portacloud.Bucket) -> None:
        require(root_bucket, "write_with_if_none_match")


class TestFsspecPipe(abstract.AbstractPipeTests, _PortaCloudFixtures):  # type: ignore[misc]
    @pytest.fixture(autouse=True)
    def _create_only(self, root_bucket: portacloud.Bucket) -> None:
        require(root_bucket, "write_with_if_none_match")

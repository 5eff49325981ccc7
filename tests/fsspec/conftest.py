"""Fixtures of the fsspec tests: a fresh PortaCloudFileSystem per target and class."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fsspec_targets import TARGETS, storage_target

from portacloud.fsspec import PortaCloudFileSystem


@pytest.fixture(scope="class", params=TARGETS)
def target_fs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortaCloudFileSystem]:
    """One filesystem on a fresh bucket of each target, shared by one test class."""
    with storage_target(request.param, tmp_path_factory.mktemp("fsspec-file")) as url:
        fs = PortaCloudFileSystem(storage=url, skip_instance_cache=True)
        yield fs
        fs.bucket.close()

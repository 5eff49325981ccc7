"""Fixtures of the fsspec tests: a fresh PortaCloudFileSystem per target and class."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fsspec_targets import TARGETS, open_target_fs

from portacloud.fsspec import PortaCloudFileSystem


@pytest.fixture(scope="class", params=TARGETS)
def target_fs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortaCloudFileSystem]:
    """One filesystem on a fresh bucket of each target, shared by one test class."""
    yield from open_target_fs(request.param, tmp_path_factory)

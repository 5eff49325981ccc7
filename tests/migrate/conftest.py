"""Fixtures of the migration tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import portacloud


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[str], tuple[str, portacloud.Bucket]]:
    """Open (and create) ``file://`` buckets under the test's temp dir by name."""

    def make(name: str) -> tuple[str, portacloud.Bucket]:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)  # opening a file:// bucket creates nothing
        return root.as_uri(), portacloud.open_bucket(root.as_uri())

    return make


@pytest.fixture
def memory_name(request: pytest.FixtureRequest) -> str:
    """A memory:// bucket name unique to the test."""
    return f"migrate-{abs(hash(request.node.nodeid)):x}"

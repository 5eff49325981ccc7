"""Storage targets the fsspec tests run on: each yields a fresh, empty storage URL.

memory:// and file:// need nothing; SeaweedFS, moto, fake-gcs-server and Azurite are the
servers scripts/servers/*.sh start (their helpers fail in CI=true and skip elsewhere when a
server is missing). One parametrisation per target, the same fixtures for all.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from portacloud.fsspec import PortaCloudFileSystem

# The server helpers live beside the integration tests; reuse them rather than copy them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

#: Every target, in the order the suite reports them.
TARGETS = ("memory", "file", "seaweedfs", "moto", "fake-gcs", "azurite", "libcloud-s3")


@contextmanager
def _s3(server: str) -> Iterator[str]:
    import s3_support

    endpoint = s3_support.s3_endpoint(server)
    with pytest.MonkeyPatch.context() as mp:
        s3_support.isolate_aws_env(mp)
        with s3_support.fresh_bucket(endpoint) as name:
            yield f"s3://{name}?endpoint_url={endpoint}"


@contextmanager
def _libcloud_s3() -> Iterator[str]:
    """libcloud's S3 driver against SeaweedFS: create-only writes and server-side copy off."""
    from urllib.parse import urlsplit

    import s3_support

    endpoint = s3_support.s3_endpoint("seaweedfs")
    parts = urlsplit(endpoint)
    with pytest.MonkeyPatch.context() as mp:
        s3_support.isolate_aws_env(mp)
        with s3_support.fresh_bucket(endpoint) as name:
            yield f"libcloud+s3://{name}?host={parts.hostname}&port={parts.port}&secure=false"


@contextmanager
def _gcs() -> Iterator[str]:
    import gcs_support

    endpoint = gcs_support.gcs_endpoint()
    with gcs_support.fresh_bucket(endpoint) as name:
        yield f"gs://{name}?endpoint_url={endpoint}"


@contextmanager
def _azurite() -> Iterator[str]:
    import azure_support

    conn = azure_support.azurite_connection_string()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(azure_support.DRIVER_ENV, conn)
        with azure_support.fresh_container(conn) as name:
            yield f"az://{name}"


@contextmanager
def storage_target(name: str, tmp: Path) -> Iterator[str]:
    """A fresh storage URL on target ``name`` (``tmp`` is where file:// keeps its objects)."""
    if name == "memory":
        yield f"memory://fsspec-{uuid.uuid4().hex}"
    elif name == "file":
        yield tmp.as_uri()
    elif name in ("seaweedfs", "moto"):
        with _s3(name) as url:
            yield url
    elif name == "libcloud-s3":
        with _libcloud_s3() as url:
            yield url
    elif name == "fake-gcs":
        with _gcs() as url:
            yield url
    elif name == "azurite":
        with _azurite() as url:
            yield url
    else:
        raise ValueError(f"unknown target {name!r}")


def open_target_fs(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortaCloudFileSystem]:
    """A filesystem on a fresh bucket of target ``name``, closed afterwards."""
    with storage_target(name, tmp_path_factory.mktemp("fsspec-file")) as url:
        fs = PortaCloudFileSystem(storage=url, skip_instance_cache=True)
        yield fs
        fs.bucket.close()

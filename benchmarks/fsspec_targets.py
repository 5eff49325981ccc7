"""The servers benchmarks/bench_fsspec.py runs on, and the fsspec filesystems it compares there.

Each server is found the way the integration tests find it (the variables
scripts/servers/*.sh write) and gets a fresh bucket or container that is emptied and dropped
afterwards. On each, portacloud's filesystem is compared with obstore.fsspec (in the
workspace) and the vendor's own fsspec filesystem (s3fs, gcsfs, adlfs: not in the workspace,
run in a ``uv run --with`` overlay); a vendor filesystem that cannot be imported is skipped
and named.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

S3_ENV = "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT"
GCS_ENV = "PORTACLOUD_TEST_GCS_ENDPOINT"
AZURITE_ENV = "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING"
AZURE_DRIVER_ENV = "AZURE_STORAGE_CONNECTION_STRING"


@dataclass
class Target:
    """One server: its filesystems (name -> (filesystem, path prefix of the bucket's keys))."""

    key: str
    title: str
    filesystems: dict[str, tuple[Any, str]]
    skipped: list[str] = field(default_factory=list)
    server_version: str | None = None


@dataclass(frozen=True)
class Server:
    """A server the benchmark can run on: the variable that names it, and how to open it."""

    key: str
    env: str
    vendor: str
    open: Callable[[str], Any]


def _portacloud(storage: str) -> Any:
    from portacloud.fsspec import PortaCloudFileSystem

    return PortaCloudFileSystem(storage=storage, skip_instance_cache=True)


def _obstore(protocol: str, config: dict[str, Any]) -> Any:
    from obstore.fsspec import FsspecStore

    return FsspecStore(
        protocol, config=config, client_options={"allow_http": True}, skip_instance_cache=True
    )


def _add_vendor(target: Target, name: str, make: Callable[[], Any], root: str) -> None:
    """Add the vendor filesystem ``name`` when its package imports; else record it skipped."""
    try:
        target.filesystems[name] = (make(), root)
    except ImportError as exc:
        target.skipped.append(f"{name} ({exc})")


def _s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _s3fs(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"},
        skip_instance_cache=True,
    )


@contextmanager
def _seaweedfs(endpoint: str) -> Iterator[Target]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    client = _s3_client(endpoint)
    bucket = f"bench-fsspec-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    obstore_config = {
        "endpoint": endpoint,
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "region": "us-east-1",
        "virtual_hosted_style_request": False,
    }
    target = Target(
        "seaweedfs",
        "SeaweedFS (weed mini, loopback)",
        {
            "portacloud": (_portacloud(f"s3://{bucket}?endpoint_url={endpoint}"), ""),
            "obstore.fsspec": (_obstore("s3", obstore_config), f"{bucket}/"),
        },
    )
    _add_vendor(target, "s3fs", lambda: _s3fs(endpoint), f"{bucket}/")
    try:
        yield target
    finally:
        target.filesystems["portacloud"][0].rm("", recursive=True)
        client.delete_bucket(Bucket=bucket)


def _gcs_client(endpoint: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="portacloud-bench",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def _gcsfs(endpoint: str) -> Any:
    # gcsfs.GCSFileSystem is, by default, ExtendedGcsFileSystem, which asks the gRPC storage
    # control API for each bucket's layout; an emulator has none, the lookup times out after
    # 60 s and is retried on the next call. The plain JSON-API filesystem is what it falls
    # back to anyway.
    from gcsfs.core import GCSFileSystem

    return GCSFileSystem(
        endpoint_url=endpoint, token="anon", project="portacloud-bench", skip_instance_cache=True
    )


@contextmanager
def _fake_gcs(endpoint: str) -> Iterator[Target]:
    client = _gcs_client(endpoint)
    bucket = f"bench-fsspec-{uuid.uuid4().hex[:12]}"
    client.create_bucket(bucket)
    # object_store reads an emulator's address from a service account key (all four empty
    # fields are required by its parser).
    key = {
        "gcs_base_url": endpoint,
        "disable_oauth": True,
        "client_email": "",
        "private_key": "",
        "private_key_id": "",
    }
    target = Target(
        "fake-gcs",
        "fake-gcs-server (memory backend, loopback)",
        {
            "portacloud": (_portacloud(f"gs://{bucket}?endpoint_url={endpoint}"), ""),
            "obstore.fsspec": (
                _obstore("gs", {"service_account_key": json.dumps(key)}),
                f"{bucket}/",
            ),
        },
    )
    _add_vendor(target, "gcsfs", lambda: _gcsfs(endpoint), f"{bucket}/")
    try:
        yield target
    finally:
        target.filesystems["portacloud"][0].rm("", recursive=True)
        client.bucket(bucket).delete()
        client.close()


def _fields(conn: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in conn.split(";") if "=" in part)


def _adlfs(conn: str) -> Any:
    import adlfs

    return adlfs.AzureBlobFileSystem(connection_string=conn, skip_instance_cache=True)


def _server_header(url: str) -> str | None:
    """The ``Server`` header of a plain GET (Azurite names its version there)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.headers.get("Server")
    except OSError as exc:  # an error status still carries the header
        headers = getattr(exc, "headers", None)
        return headers.get("Server") if headers else None


@contextmanager
def _azurite(conn: str) -> Iterator[Target]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(conn)
    container = f"bench-fsspec-{uuid.uuid4().hex[:12]}"
    service.create_container(container)
    previous = os.environ.get(AZURE_DRIVER_ENV)
    os.environ[AZURE_DRIVER_ENV] = conn  # portacloud's az:// driver reads its key from here
    parts = _fields(conn)
    obstore_config = {
        "account_name": parts["AccountName"],
        "account_key": parts["AccountKey"],
        "endpoint": parts["BlobEndpoint"],
    }
    target = Target(
        "azurite",
        "Azurite (in-memory, loopback)",
        {
            "portacloud": (_portacloud(f"az://{container}"), ""),
            "obstore.fsspec": (_obstore("az", obstore_config), f"{container}/"),
        },
        server_version=_server_header(parts["BlobEndpoint"] + "?comp=list"),
    )
    _add_vendor(target, "adlfs", lambda: _adlfs(conn), f"{container}/")
    try:
        yield target
    finally:
        target.filesystems["portacloud"][0].rm("", recursive=True)
        service.delete_container(container)
        service.close()
        if previous is None:
            os.environ.pop(AZURE_DRIVER_ENV, None)
        else:
            os.environ[AZURE_DRIVER_ENV] = previous


#: Every server, in the order the results list them.
SERVERS = (
    Server("seaweedfs", S3_ENV, "s3fs", _seaweedfs),
    Server("fake-gcs", GCS_ENV, "gcsfs", _fake_gcs),
    Server("azurite", AZURITE_ENV, "adlfs", _azurite),
)


def configured() -> tuple[list[tuple[Server, str]], list[str]]:
    """(server, its address) for each server whose variable is set; the others, with why."""
    found, missing = [], []
    for server in SERVERS:
        value = os.environ.get(server.env)
        if value:
            found.append((server, value))
        else:
            missing.append(f"{server.key} ({server.env} is unset)")
    return found, missing

"""Buckets on the real servers of scripts/services.sh, made and removed with the vendor SDKs
(so the code under test does not describe itself). A missing server skips the test, and fails
it when CI=true."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

SEAWEEDFS = "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT"
GCS = "PORTACLOUD_TEST_GCS_ENDPOINT"
AZURITE = "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING"


def require(variable: str, server: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    if os.environ.get("CI") == "true":
        pytest.fail(f"{server} is not running ({variable} is unset): scripts/services.sh start")
    pytest.skip(f"{server} is not running ({variable} is unset): scripts/services.sh start")


def _name(prefix: str = "pcmig") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@contextmanager
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    endpoint = require(SEAWEEDFS, "SeaweedFS")
    pytest.importorskip("portacloud_aws", reason="portacloud-aws is not installed")
    import boto3

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    # The throw-away identity scripts/servers/seaweedfs.sh gives its local server.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    name = _name()
    client.create_bucket(Bucket=name)
    try:
        yield f"s3://{name}?endpoint_url={endpoint}"
    finally:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)
        for page in pages:
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=obj["Key"])
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=name)


@contextmanager
def gcs_bucket(monkeypatch: pytest.MonkeyPatch, *, prefix: str = "pcmig") -> Iterator[str]:
    endpoint = require(GCS, "fake-gcs-server")
    pytest.importorskip("portacloud_gcp", reason="portacloud-gcp is not installed")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    client = storage.Client(
        project="portacloud-tests",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
    name = _name(prefix)
    client.create_bucket(name)
    try:
        yield f"gs://{name}?endpoint_url={endpoint}"
    finally:
        for blob in client.list_blobs(name):
            blob.delete()
        client.bucket(name).delete()


@contextmanager
def azure_container(monkeypatch: pytest.MonkeyPatch, *, prefix: str = "pcmig") -> Iterator[str]:
    conn = require(AZURITE, "Azurite")
    pytest.importorskip("portacloud_azure", reason="portacloud-azure is not installed")
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    service = BlobServiceClient.from_connection_string(conn)
    name = _name(prefix)
    service.create_container(name)
    try:
        yield f"az://{name}"
    finally:
        service.delete_container(name)


BACKENDS: dict[str, Callable[[pytest.MonkeyPatch], Any]] = {
    "s3": s3_bucket,
    "gs": gcs_bucket,
    "az": azure_container,
}

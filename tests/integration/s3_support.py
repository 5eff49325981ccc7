"""Helpers of tests/integration/test_s3.py: find the S3 servers, make and drop buckets, spy.

Buckets are created and inspected with boto3 directly, behind the driver's back, so the tests
do not trust the code under test to describe itself.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

#: Server name -> the variable scripts/servers/<name>.sh writes to $LAB/<name>.env.
SERVERS = {
    "seaweedfs": "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT",
    "moto": "PORTACLOUD_TEST_MOTO_ENDPOINT",
}
#: The throw-away identity scripts/servers/seaweedfs.sh gives its server (moto accepts any).
ACCESS_KEY = "testing"
SECRET_KEY = "testing"


def s3_endpoint(server: str) -> str:
    """The endpoint of ``server``, or fail (CI) / skip (elsewhere) when it is not running."""
    variable = SERVERS[server]
    endpoint = os.environ.get(variable)
    if endpoint:
        return endpoint
    if os.environ.get("CI") == "true":
        pytest.fail(f"{server} not running: scripts/services.sh start ({variable} is unset)")
    pytest.skip(f"{server} not running: scripts/services.sh start")


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3's credential chain at the test identity and nothing else on this machine."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def raw_client(endpoint: str, *, secret: str = SECRET_KEY) -> Any:
    """A plain boto3 client with retries off, to arrange and inspect state."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        ),
    )


def multipart_uploads(client: Any, bucket: str) -> list[dict[str, Any]]:
    """Every multipart upload still open in ``bucket``."""
    uploads: list[dict[str, Any]] = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def object_keys(client: Any, bucket: str) -> list[str]:
    """Every key in ``bucket``, as the server lists it."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@contextmanager
def fresh_bucket(endpoint: str, *, prefix: str = "pc-") -> Iterator[str]:
    """Create a uniquely named bucket; empty it (uploads included) and delete it afterwards."""
    client = raw_client(endpoint)
    name = f"{prefix}{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        for upload in multipart_uploads(client, name):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for key in object_keys(client, name):
            client.delete_object(Bucket=name, Key=key)
        client.delete_bucket(Bucket=name)
        client.close()


class CallSpy:
    """Wraps one method of a boto3 client: counts calls, tracks concurrency, injects faults.

    The wrapper is set on the client instance, which belongs to the test's own bucket and is
    closed with it, so nothing needs undoing.
    """

    def __init__(self, client: Any, method: str) -> None:
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail: Callable[[int, dict[str, Any]], BaseException | None] = lambda n, kw: None
        self._lock = threading.Lock()
        original = getattr(client, method)

        def wrapper(**kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
                number = self.calls
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                error = self.fail(number, kwargs)
                if error is not None:
                    raise error
                return original(**kwargs)
            finally:
                with self._lock:
                    self.in_flight -= 1

        setattr(client, method, wrapper)


def client_error(code: str, status: int, operation: str = "UploadPart") -> Exception:
    """A botocore ClientError as the parser would build it from a server's error answer."""
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        },
        operation,
    )

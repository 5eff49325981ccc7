"""Helpers of tests/integration/test_gcs.py: find fake-gcs-server, make and drop buckets, spy."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

GCS_ENV = "PORTACLOUD_TEST_GCS_ENDPOINT"


def gcs_endpoint() -> str:
    """The endpoint scripts/servers/fake-gcs.sh wrote, or fail/skip as CI demands."""
    endpoint = os.environ.get(GCS_ENV)
    if endpoint:
        return endpoint
    if os.environ.get("CI") == "true":
        pytest.fail(f"fake-gcs-server not running: scripts/services.sh start ({GCS_ENV} is unset)")
    pytest.skip("fake-gcs-server not running: scripts/services.sh start")


def raw_client(endpoint: str) -> Any:
    """A plain google-cloud-storage client, to arrange and inspect state behind the driver."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="portacloud-tests",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


@contextmanager
def fresh_bucket(endpoint: str, *, prefix: str = "pc-") -> Iterator[str]:
    """Create a uniquely named bucket and delete it, with whatever it holds, afterwards."""
    client = raw_client(endpoint)
    name = f"{prefix}{uuid.uuid4().hex[:20]}"
    client.create_bucket(name)
    try:
        yield name
    finally:
        bucket = client.bucket(name)
        for blob in client.list_blobs(name):
            blob.delete()
        bucket.delete()
        client.close()


@dataclass(frozen=True)
class Request:
    """One HTTP request the driver made, as the spy saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_size: int


class RequestSpy:
    """Records every request made through google.auth's AuthorizedSession (the SDK's transport)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from google.auth.transport.requests import AuthorizedSession

        original = AuthorizedSession.request
        spy = self

        def request(session: Any, method: str, url: str, data: Any = None, **kwargs: Any) -> Any:
            parts = urlsplit(url)
            headers = {k.lower(): str(v) for k, v in (kwargs.get("headers") or {}).items()}
            size = len(data) if isinstance(data, bytes | bytearray | memoryview) else 0
            spy.requests.append(Request(method.upper(), parts.path, parts.query, headers, size))
            return original(session, method, url, data, **kwargs)

        monkeypatch.setattr(AuthorizedSession, "request", request)

    def session_puts(self) -> list[Request]:
        """PUTs to resumable upload sessions, in order."""
        return [r for r in self.requests if r.method == "PUT" and "upload_id=" in r.query]

    def session_deletes(self) -> list[Request]:
        """DELETEs of resumable upload sessions."""
        return [r for r in self.requests if r.method == "DELETE" and "upload_id=" in r.query]

"""Helpers of tests/integration/test_azure.py: find Azurite, make and drop containers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

AZURITE_ENV = "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING"
DRIVER_ENV = "AZURE_STORAGE_CONNECTION_STRING"


def azurite_connection_string() -> str:
    """The connection string scripts/servers/azurite.sh wrote, or fail/skip as CI demands."""
    conn = os.environ.get(AZURITE_ENV)
    if conn:
        return conn
    if os.environ.get("CI") == "true":
        pytest.fail(f"Azurite not running: scripts/services.sh start ({AZURITE_ENV} is unset)")
    pytest.skip("Azurite not running: scripts/services.sh start")


def service_client(conn: str) -> Any:
    """A plain ``BlobServiceClient`` for arranging and inspecting state behind the driver."""
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(conn)


def fields(conn: str) -> dict[str, str]:
    """The ``Name=value`` fields of a connection string."""
    out: dict[str, str] = {}
    for part in conn.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            out[name] = value
    return out


def with_fields(conn: str, **changes: str) -> str:
    """The connection string with some fields replaced."""
    merged = {**fields(conn), **changes}
    return "".join(f"{name}={value};" for name, value in merged.items())


@contextmanager
def fresh_container(conn: str, *, prefix: str = "pc-") -> Iterator[str]:
    """Create a uniquely named container and delete it, with whatever it holds, afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:20]}"
    service = service_client(conn)
    service.create_container(name)
    try:
        yield name
    finally:
        service.delete_container(name)
        service.close()

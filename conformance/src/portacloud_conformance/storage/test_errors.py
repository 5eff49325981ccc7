"""Failures are portacloud errors with a code, the provider, the operation and the key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import portacloud
from portacloud_conformance.support import require


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("get", lambda b: b.get("missing/key")),
        ("get", lambda b: b.get("missing/key", range=(0, 10))),
        ("get", lambda b: b.open("missing/key")),
        ("head", lambda b: b.head("missing/key")),
        ("copy", lambda b: b.copy("missing/key", "dst")),
    ],
    ids=["get", "get-range", "open", "head", "copy"],
)
def test_missing_key_is_not_found(
    bucket: portacloud.Bucket, operation: str, call: Callable[[portacloud.Bucket], object]
) -> None:
    if operation == "copy":
        require(bucket, "server_side_copy")
    with pytest.raises(portacloud.NotFoundError) as caught:
        call(bucket)
    err = caught.value
    assert err.code is portacloud.ErrorCode.NOT_FOUND
    assert err.provider == bucket.provider
    assert err.operation == operation
    assert err.resource == "missing/key"
    assert not err.retryable
    assert "missing/key" in str(err)
    assert "NOT_FOUND" in str(err)


def test_exists_is_false_for_missing(bucket: portacloud.Bucket) -> None:
    assert bucket.exists("missing") is False


def test_invalid_argument_is_raised_before_any_request(bucket: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError) as caught:
        bucket.put("", b"x")
    assert caught.value.code is portacloud.ErrorCode.INVALID_ARGUMENT
    assert isinstance(caught.value, portacloud.PortaCloudError)


def test_open_unknown_scheme_lists_installed_schemes() -> None:
    with pytest.raises(portacloud.UnsupportedError, match="memory"):
        portacloud.open_bucket("nosuchscheme://bucket")


def test_url_with_credentials_is_refused() -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="credentials"):
        portacloud.open_bucket("memory://user:pass@bucket")
    with pytest.raises(portacloud.InvalidArgumentError, match="credentials"):
        portacloud.open_bucket("memory://bucket?secret_access_key=abc")

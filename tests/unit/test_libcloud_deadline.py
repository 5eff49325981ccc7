"""libcloud connections wait a bounded time: libcloud's own default is to wait for ever."""

from __future__ import annotations

import pytest

from portacloud_libcloud.credentials import REQUEST_TIMEOUT, compute_args, storage_args
from portacloud_libcloud.options import ComputeOptions, StorageOptions, parse_libcloud_options


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")


def test_storage_drivers_get_a_request_timeout() -> None:
    options, extra = parse_libcloud_options(StorageOptions, "libcloud+s3", {})
    args = storage_args("s3", options, extra, scheme="libcloud+s3")
    assert args.kwargs["timeout"] == REQUEST_TIMEOUT == 60


def test_compute_drivers_get_a_request_timeout() -> None:
    options, extra = parse_libcloud_options(ComputeOptions, "libcloud+ec2", {})
    args = compute_args("ec2", "us-east-1", options, extra, scheme="libcloud+ec2")
    assert args.kwargs["timeout"] == REQUEST_TIMEOUT

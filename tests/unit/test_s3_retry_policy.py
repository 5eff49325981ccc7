"""The retry policy given to the aws openers reaches every retry the drivers own; no server.

Counted at a stand-in boto3 client: ``RetryPolicy(attempts=1)`` must mean one request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore import exceptions as boto_exc

import portacloud
from portacloud.retry import RetryPolicy
from portacloud.storage.driver import WriteOptions
from portacloud_aws.compute import provider as ec2_provider
from portacloud_aws.s3_driver import S3Driver
from portacloud_aws.storage import _detect
from portacloud_aws.storage import provider as s3_provider
from portacloud_aws.vendors import VENDORS

MiB = 1024 * 1024


def _unavailable(operation: str) -> boto_exc.ClientError:
    response: Any = {
        "Error": {"Code": "ServiceUnavailable", "Message": "busy"},
        "ResponseMetadata": {"HTTPStatusCode": 503, "HTTPHeaders": {}},
    }
    return boto_exc.ClientError(response, operation)


class _Busy:
    """A boto3 S3 client whose every HeadBucket and UploadPart answers 503."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.parts: dict[int, int] = {}
        self.meta = type("Meta", (), {"endpoint_url": "http://busy.invalid"})()

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def head_bucket(self, **_: Any) -> dict[str, Any]:
        self._count("head_bucket")
        raise _unavailable("HeadBucket")

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self._count("create_multipart_upload")
        return {"UploadId": "u1"}

    def upload_part(self, *, PartNumber: int, **_: Any) -> dict[str, Any]:
        self.parts[PartNumber] = self.parts.get(PartNumber, 0) + 1
        raise _unavailable("UploadPart")

    def abort_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self._count("abort_multipart_upload")
        return {}


@pytest.mark.parametrize("attempts", [1, 3])
def test_vendor_detection_makes_as_many_requests_as_the_policy_allows(attempts: int) -> None:
    client = _Busy()
    with pytest.raises(portacloud.PortaCloudError) as caught:
        _detect(client, "b", RetryPolicy(attempts=attempts, initial_delay=0))
    assert client.calls == {"head_bucket": attempts}
    assert caught.value.retryable is False


@pytest.mark.parametrize("attempts", [1, 2])
def test_part_uploads_of_a_stream_use_the_drivers_policy(attempts: int) -> None:
    client = _Busy()
    policy = RetryPolicy(attempts=attempts, initial_delay=0)
    driver = S3Driver(client, bucket="b", profile=VENDORS["moto"], part_size=5 * MiB, retry=policy)
    writer = driver.open_writer("k", WriteOptions())
    writer.write(b"x" * (5 * MiB + 1))  # one full part goes out, one byte stays
    with pytest.raises(portacloud.PortaCloudError):
        writer.commit(crc32c="00000000")
    # The last byte may go out as part 2 before part 1's failure is seen, and whichever part
    # gives up first ends the write: count per part.
    assert max(client.parts.values()) == attempts
    assert all(tries <= attempts for tries in client.parts.values())
    assert client.calls["abort_multipart_upload"] == 1


def test_open_bucket_hands_the_policy_to_the_driver() -> None:
    policy = RetryPolicy(attempts=1)
    options = {"endpoint_url": "http://127.0.0.1:9", "vendor": "moto"}  # no detection request
    driver, prefix = s3_provider.open_bucket(urlsplit("s3://b/p"), options, retry=policy)
    try:
        assert driver.retry is policy
        assert prefix == "p"
    finally:
        driver.close()


def test_open_compute_hands_the_policy_to_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    policy = RetryPolicy(attempts=1)
    options = {"endpoint_url": "http://127.0.0.1:9"}
    driver = ec2_provider.open_compute(urlsplit("aws://us-east-1"), options, retry=policy)
    try:
        assert driver._retry is policy
    finally:
        driver.close()

"""The S3 error table (portacloud_aws.errors) with botocore errors built by hand, no server."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from botocore import exceptions as boto_exc
from urllib3 import exceptions as urllib3_exc

import portacloud
from portacloud.errors import ChecksumMismatchError, ErrorCode, PortaCloudError
from portacloud.retry import RetryPolicy
from portacloud_aws.errors import map_s3_error
from portacloud_aws.storage import S3Driver
from portacloud_aws.vendors import VENDORS, detect_vendor


def client_error(
    code: str | None,
    status: int,
    *,
    message: str = "",
    headers: dict[str, str] | None = None,
    operation: str = "GetObject",
) -> boto_exc.ClientError:
    """A ClientError shaped as botocore's parser builds it (HEAD answers have no code)."""
    error: dict[str, Any] = {"Message": message}
    error["Code"] = code if code is not None else str(status)
    response: Any = {
        "Error": error,
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
    }
    return boto_exc.ClientError(response, operation)


def mapped(exc: BaseException) -> PortaCloudError:
    result = map_s3_error(exc)
    assert result is not None
    return result


@pytest.mark.parametrize(
    ("code", "status", "expected", "retryable"),
    [
        ("NoSuchKey", 404, ErrorCode.NOT_FOUND, False),
        ("NoSuchBucket", 404, ErrorCode.NOT_FOUND, False),
        ("NoSuchUpload", 404, ErrorCode.NOT_FOUND, False),
        (None, 404, ErrorCode.NOT_FOUND, False),
        ("PreconditionFailed", 412, ErrorCode.FAILED_PRECONDITION, False),
        (None, 412, ErrorCode.FAILED_PRECONDITION, False),
        ("ConditionalRequestConflict", 409, ErrorCode.FAILED_PRECONDITION, True),
        ("AccessDenied", 403, ErrorCode.PERMISSION_DENIED, False),
        (None, 403, ErrorCode.PERMISSION_DENIED, False),
        ("InvalidAccessKeyId", 403, ErrorCode.UNAUTHENTICATED, False),
        ("SignatureDoesNotMatch", 403, ErrorCode.UNAUTHENTICATED, False),
        ("ExpiredToken", 400, ErrorCode.UNAUTHENTICATED, False),
        ("SlowDown", 503, ErrorCode.RESOURCE_EXHAUSTED, True),
        (None, 503, ErrorCode.RESOURCE_EXHAUSTED, True),
        ("TooManyRequests", 429, ErrorCode.RESOURCE_EXHAUSTED, True),
        ("Throttling", 400, ErrorCode.RESOURCE_EXHAUSTED, True),
        ("InternalError", 500, ErrorCode.UNAVAILABLE, True),
        (None, 502, ErrorCode.UNAVAILABLE, True),
        (None, 599, ErrorCode.UNAVAILABLE, True),
        ("RequestTimeout", 400, ErrorCode.UNAVAILABLE, True),
        ("InvalidRange", 416, ErrorCode.INVALID_ARGUMENT, False),
        ("KeyTooLongError", 400, ErrorCode.INVALID_ARGUMENT, False),
        ("EntityTooSmall", 400, ErrorCode.INVALID_ARGUMENT, False),
        ("BucketNotEmpty", 409, ErrorCode.FAILED_PRECONDITION, False),
        ("NotImplemented", 501, ErrorCode.UNSUPPORTED, False),
        ("SomethingNew", 418, ErrorCode.UNKNOWN, False),
    ],
)
def test_client_errors_by_code_then_status(
    code: str | None, status: int, expected: ErrorCode, retryable: bool
) -> None:
    err = mapped(client_error(code, status))
    assert err.code is expected
    assert err.retryable is retryable


def test_the_code_wins_over_the_status() -> None:
    # InvalidAccessKeyId comes with 403, which alone would mean PERMISSION_DENIED.
    assert mapped(client_error("InvalidAccessKeyId", 403)).code is ErrorCode.UNAUTHENTICATED
    assert mapped(client_error("NoSuchKey", 400)).code is ErrorCode.NOT_FOUND


def test_bad_digest_is_a_retryable_checksum_mismatch() -> None:
    err = mapped(client_error("BadDigest", 400, operation="PutObject"))
    assert isinstance(err, ChecksumMismatchError)
    assert err.retryable


def test_slow_down_with_retry_after_seconds() -> None:
    err = mapped(client_error("SlowDown", 503, headers={"retry-after": "3"}))
    assert err.code is ErrorCode.RESOURCE_EXHAUSTED
    assert err.retryable
    assert err.retry_after == 3.0


def test_429_with_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    err = mapped(client_error("TooManyRequests", 429, headers={"Retry-After": when}))
    assert err.code is ErrorCode.RESOURCE_EXHAUSTED
    assert err.retry_after is not None
    assert 25 <= err.retry_after <= 31


def test_unparseable_retry_after_is_ignored() -> None:
    err = mapped(client_error("SlowDown", 503, headers={"retry-after": "soon"}))
    assert err.retry_after is None


def test_message_names_code_status_and_operation() -> None:
    err = mapped(
        client_error(
            "NoSuchBucket", 404, message="The bucket does not exist", operation="PutObject"
        )
    )
    text = str(err)
    assert "NoSuchBucket" in text
    assert "404" in text
    assert "PutObject" in text
    assert "The bucket does not exist" in text


def test_messages_never_carry_credentials() -> None:
    leaky = (
        "bad request for http://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENG@host/b?"
        "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1&X-Amz-Signature=deadbeef"
        "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLETOKEN Signature=abc123"
    )
    for exc in (
        client_error("SignatureDoesNotMatch", 403, message=leaky),
        boto_exc.EndpointConnectionError(endpoint_url="http://user:hunter2@10.0.0.1:9000/"),
    ):
        text = str(mapped(exc))
        for secret in (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMIK7MDENG",
            "deadbeef",
            "FQoGZXIvYXdzEXAMPLETOKEN",
            "abc123",
            "hunter2",
        ):
            assert secret not in text, text


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (boto_exc.EndpointConnectionError(endpoint_url="http://h"), ErrorCode.UNAVAILABLE, True),
        (
            boto_exc.ConnectTimeoutError(endpoint_url="http://h"),
            ErrorCode.UNAVAILABLE,
            True,
        ),
        (
            boto_exc.ReadTimeoutError(endpoint_url="http://h"),
            ErrorCode.DEADLINE_EXCEEDED,
            True,
        ),
        (
            boto_exc.ConnectionClosedError(endpoint_url="http://h"),
            ErrorCode.UNAVAILABLE,
            True,
        ),
        (
            boto_exc.IncompleteReadError(actual_bytes=5, expected_bytes=10),
            ErrorCode.UNAVAILABLE,
            True,
        ),
        (boto_exc.ResponseStreamingError(error="reset"), ErrorCode.UNAVAILABLE, True),
        (urllib3_exc.ProtocolError("Connection broken"), ErrorCode.UNAVAILABLE, True),
        (
            boto_exc.SSLError(endpoint_url="https://h", error="bad cert"),
            ErrorCode.UNAVAILABLE,
            False,
        ),
        (boto_exc.NoCredentialsError(), ErrorCode.UNAUTHENTICATED, False),
        (
            boto_exc.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            ErrorCode.UNAUTHENTICATED,
            False,
        ),
        (boto_exc.ProfileNotFound(profile="nope"), ErrorCode.INVALID_ARGUMENT, False),
        (boto_exc.ParamValidationError(report="bad"), ErrorCode.INVALID_ARGUMENT, False),
        (boto_exc.NoRegionError(), ErrorCode.INVALID_ARGUMENT, False),
        (
            boto_exc.FlexibleChecksumError(error_msg="crc mismatch"),
            ErrorCode.INTERNAL,
            True,
        ),
        (boto_exc.DataNotFoundError(data_path="x"), ErrorCode.INTERNAL, False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_botocore_exceptions_by_type(
    exc: BaseException, expected: ErrorCode, retryable: bool
) -> None:
    err = mapped(exc)
    assert err.code is expected
    assert err.retryable is retryable


def test_foreign_exceptions_are_not_this_tables() -> None:
    assert map_s3_error(ValueError("no")) is None
    assert map_s3_error(KeyError("no")) is None


def test_portacloud_errors_pass_through() -> None:
    original = portacloud.NotFoundError("gone")
    assert map_s3_error(original) is original


# ------------------------------------------------------------------------ through a Bucket


class _FakeClient:
    """Stands in for a boto3 client: raises the scripted errors, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {
            "ContentLength": 3,
            "ETag": '"abc"',
            "Metadata": {"portacloud-crc32c": "0000abcd", "team": "ml"},
            "ContentType": "text/plain",
        }

    def close(self) -> None:
        """Nothing to release."""


def _bucket(client: _FakeClient, retry: RetryPolicy | None = None) -> portacloud.Bucket:
    driver = S3Driver(client, bucket="b", profile=VENDORS["seaweedfs"])
    return portacloud.Bucket(driver, url="s3://b", retry=retry)


def test_bucket_maps_and_keeps_the_native_cause() -> None:
    native = client_error(None, 404, operation="HeadObject")
    with pytest.raises(portacloud.NotFoundError) as caught:
        _bucket(_FakeClient(native)).head("k")
    err = caught.value
    assert err.provider == "s3"
    assert err.operation == "head"
    assert err.resource == "k"
    assert err.as_native(boto_exc.ClientError) is native


def test_bucket_retries_throttling_then_succeeds() -> None:
    client = _FakeClient(
        client_error("SlowDown", 503, headers={"retry-after": "0"}),
        boto_exc.EndpointConnectionError(endpoint_url="http://h"),
    )
    info = _bucket(client, RetryPolicy(initial_delay=0)).head("k")
    assert client.calls == 3
    assert info.crc32c == "0000abcd"
    assert dict(info.metadata) == {"team": "ml"}


def test_bucket_does_not_retry_not_found() -> None:
    client = _FakeClient(client_error("NoSuchKey", 404), client_error("NoSuchKey", 404))
    with pytest.raises(portacloud.NotFoundError):
        _bucket(client, RetryPolicy(initial_delay=0)).head("k")
    assert client.calls == 1


# ------------------------------------------------------------------------ vendors and imports


@pytest.mark.parametrize(
    ("server", "vendor"),
    [
        ("SeaweedFS 8000GB 4.48", "seaweedfs"),
        ("Werkzeug/3.1.9 Python/3.11.7", "moto"),
        ("MinIO", "minio"),
        ("cloudflare", "r2"),
        ("AmazonS3", "aws"),
        ("nginx/1.25", "generic"),
        (None, "generic"),
    ],
)
def test_vendor_detection_from_the_server_header(server: str | None, vendor: str) -> None:
    assert detect_vendor(server) == vendor


def test_every_vendor_declares_its_departures() -> None:
    assert VENDORS["moto"].capabilities.signed_url_checks_expiry is False
    assert VENDORS["seaweedfs"].capabilities.key_empty_segments is False
    assert VENDORS["seaweedfs"].capabilities.key_dot_segments is False
    assert VENDORS["aws"].capabilities.presign_read
    assert VENDORS["aws"].capabilities.presign_write
    for profile in VENDORS.values():
        assert profile.capabilities.notes, profile.name


def test_importing_the_package_does_not_import_boto3() -> None:
    code = (
        "import sys, portacloud_aws, portacloud_aws.storage, portacloud_aws.compute; "
        "print('boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]

"""The az:// provider's error table, with azure.core exceptions built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

import portacloud
import portacloud.errors as pe

pytest.importorskip("azure.storage.blob")

from azure.core import exceptions as az
from azure.storage.blob import StorageErrorCode

from portacloud_azure.errors import ERRORS, error_from_response, map_azure_error, scrub_message
from portacloud_azure.metadata import (
    AZURE_CRC32C_NAME,
    decode_metadata,
    decode_name,
    encode_metadata,
    encode_name,
)

ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class FakeResponse:
    """Just what azure.core's HttpResponseError reads from a response."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "Reason"
        self.headers = headers or {}
        self.content_type = "application/xml"

    def text(self, encoding: str | None = None) -> str:
        return ""

    def body(self) -> bytes:
        return b""


def http_error(
    cls: type[az.HttpResponseError],
    status: int,
    code: str | None,
    *,
    message: str = "The service said no.\nRequestId:1\nTime:now",
    headers: dict[str, str] | None = None,
    code_in_header_only: bool = False,
) -> az.HttpResponseError:
    all_headers = dict(headers or {})
    if code is not None:
        all_headers["x-ms-error-code"] = code
    exc = cls(message=message, response=FakeResponse(status, all_headers))  # type: ignore[arg-type]
    if code is not None and not code_in_header_only:
        # The storage SDK sets error_code to its enum where it knows the code.
        known = {e.value: e for e in StorageErrorCode}
        exc.error_code = known.get(code, code)
    return exc


@pytest.mark.parametrize(
    ("cls", "status", "code", "expected", "retryable"),
    [
        (az.ResourceNotFoundError, 404, "BlobNotFound", pe.NotFoundError, False),
        (az.ResourceNotFoundError, 404, "ContainerNotFound", pe.NotFoundError, False),
        (az.ResourceModifiedError, 412, "ConditionNotMet", pe.FailedPreconditionError, False),
        # If-None-Match: * on a blob that exists: the create-only condition failed.
        (az.ResourceExistsError, 409, "BlobAlreadyExists", pe.FailedPreconditionError, False),
        (az.ResourceExistsError, 409, "ContainerAlreadyExists", pe.AlreadyExistsError, False),
        (az.ClientAuthenticationError, 403, "AuthenticationFailed", pe.UnauthenticatedError, False),
        (az.HttpResponseError, 403, "AuthorizationFailure", pe.PermissionDeniedError, False),
        (az.HttpResponseError, 403, "AccountIsDisabled", pe.PermissionDeniedError, False),
        (az.HttpResponseError, 503, "ServerBusy", pe.ResourceExhaustedError, True),
        (az.HttpResponseError, 500, "OperationTimedOut", pe.DeadlineExceededError, True),
        (az.HttpResponseError, 500, "InternalError", pe.UnavailableError, True),
        (az.HttpResponseError, 429, None, pe.ResourceExhaustedError, True),
        (az.HttpResponseError, 503, None, pe.UnavailableError, True),
        (az.HttpResponseError, 502, None, pe.UnavailableError, True),
        (az.HttpResponseError, 504, None, pe.DeadlineExceededError, True),
        (az.HttpResponseError, 416, "InvalidRange", pe.InvalidArgumentError, False),
        (az.HttpResponseError, 400, "InvalidMetadata", pe.InvalidArgumentError, False),
        (az.HttpResponseError, 400, "InvalidBlockList", pe.FailedPreconditionError, False),
        (az.HttpResponseError, 400, "APINotImplemented", pe.UnsupportedError, False),
        # A code nobody has seen yet falls back to the status.
        (az.HttpResponseError, 400, "BrandNewCode", pe.InvalidArgumentError, False),
        (az.HttpResponseError, 404, "BrandNewCode", pe.NotFoundError, False),
        (az.HttpResponseError, 507, None, pe.UnavailableError, True),
        (az.HttpResponseError, 418, None, pe.UnknownError, False),
    ],
)
def test_http_errors_map_by_code_then_status(
    cls: type[az.HttpResponseError],
    status: int,
    code: str | None,
    expected: type[portacloud.PortaCloudError],
    retryable: bool,
) -> None:
    mapped = map_azure_error(http_error(cls, status, code))
    assert type(mapped) is expected
    assert mapped.retryable is retryable
    if code:
        assert code in mapped.message
        assert str(status) in mapped.message


def test_the_code_is_read_from_the_header_when_the_sdk_did_not_parse_it() -> None:
    exc = http_error(az.HttpResponseError, 503, "ServerBusy", code_in_header_only=True)
    exc.error_code = None
    assert isinstance(map_azure_error(exc), portacloud.ResourceExhaustedError)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"x-ms-retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_retry_after_is_honoured(headers: dict[str, str], seconds: float | None) -> None:
    mapped = map_azure_error(http_error(az.HttpResponseError, 503, "ServerBusy", headers=headers))
    assert isinstance(mapped, portacloud.ResourceExhaustedError)
    assert mapped.retry_after == seconds
    throttled = map_azure_error(http_error(az.HttpResponseError, 429, None, headers=headers))
    assert throttled.retryable
    assert throttled.retry_after == seconds


def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    headers = {"Retry-After": when}
    seconds = map_azure_error(
        http_error(az.HttpResponseError, 503, None, headers=headers)
    ).retry_after
    assert seconds is not None
    assert 25 <= seconds <= 30


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (az.ServiceRequestError("connection refused"), portacloud.UnavailableError),
        (az.ServiceResponseError("connection reset"), portacloud.UnavailableError),
        (az.ServiceRequestTimeoutError("connect timeout"), portacloud.DeadlineExceededError),
        (az.ServiceResponseTimeoutError("read timeout"), portacloud.DeadlineExceededError),
        (az.IncompleteReadError("body ended early"), portacloud.UnavailableError),
        # The downloader wraps a broken body in an HttpResponseError with no response.
        (az.HttpResponseError("wrapped"), portacloud.UnavailableError),
    ],
)
def test_transport_failures_are_retryable(exc: Exception, expected: type[Exception]) -> None:
    mapped = map_azure_error(exc)
    assert type(mapped) is expected
    assert mapped.retryable


def test_credential_failures_before_any_request_are_unauthenticated() -> None:
    from azure.identity import CredentialUnavailableError

    mapped = map_azure_error(CredentialUnavailableError("EnvironmentCredential: not configured"))
    assert isinstance(mapped, portacloud.UnauthenticatedError)
    assert not mapped.retryable


def test_foreign_exceptions_are_not_this_tables() -> None:
    assert map_azure_error(KeyError("x")) is None
    assert map_azure_error(OSError("disk")) is None
    assert isinstance(map_azure_error(az.AzureError("odd")), portacloud.UnknownError)


def test_every_error_code_maps_to_a_portable_error() -> None:
    for code, rule in ERRORS.by_code.items():
        assert issubclass(rule.error, portacloud.PortaCloudError), code
        assert isinstance(error_from_response(400, code), rule.error)


def test_messages_never_carry_keys_or_sas_signatures() -> None:
    message = (
        "Server failed to authenticate the request. sv=2024-01-01&se=2030&sp=r&sig=AbCdEf%2Bsecret "
        f"AccountKey={ACCOUNT_KEY}; Authorization: SharedKey devstoreaccount1:c2VjcmV0c2lnbmF0dXJl"
    )
    mapped = map_azure_error(
        http_error(az.ClientAuthenticationError, 403, "AuthenticationFailed", message=message)
    )
    assert isinstance(mapped, portacloud.UnauthenticatedError)
    text = str(mapped)
    assert "AbCdEf" not in text
    assert ACCOUNT_KEY not in text
    assert ACCOUNT_KEY[:20] not in text
    assert "c2VjcmV0c2lnbmF0dXJl" not in text
    assert "Server failed to authenticate the request." in text
    assert scrub_message(f"x {ACCOUNT_KEY} y") == "x *** y"


def test_a_request_signature_quoted_by_the_service_is_scrubbed() -> None:
    signature = "UjVGBPd5Y1dIhM0oB2hMCI0u2sNmF7iQv8fNfE4mK0c="
    message = (
        f"The MAC signature found in the HTTP request '{signature}' is not the same as any "
        "computed signature."
    )
    mapped = map_azure_error(
        http_error(az.ClientAuthenticationError, 403, "AuthenticationFailed", message=message)
    )
    assert signature not in str(mapped)
    assert "The MAC signature found in the HTTP request '***'" in str(mapped)


def test_only_the_first_line_of_the_service_message_is_kept() -> None:
    mapped = map_azure_error(
        http_error(
            az.ResourceNotFoundError,
            404,
            "BlobNotFound",
            message="The specified blob does not exist.\nRequestId:abc\nContent: <?xml ...>",
        )
    )
    assert mapped.message == "The specified blob does not exist. (404, BlobNotFound)"


# ------------------------------------------------------------------------ metadata names


@pytest.mark.parametrize(
    ("portable", "azure"),
    [
        ("owner", "owner"),
        ("content-sha256", "content_hsha256"),
        ("v1.2_x", "v1_d2__x"),
        ("1st", "_s1st"),
        ("portacloud-crc32c", "portacloud_hcrc32c"),
    ],
)
def test_metadata_names_become_csharp_identifiers(portable: str, azure: str) -> None:
    assert encode_name(portable) == azure
    assert decode_name(azure) == portable
    assert azure.isidentifier()


def test_metadata_round_trip_strips_the_checksum() -> None:
    raw = encode_metadata({"a-b": "1", "c": "2"}, "0a1b2c3d")
    assert raw == {"a_hb": "1", "c": "2", AZURE_CRC32C_NAME: "0a1b2c3d"}
    assert decode_metadata(raw) == ({"a-b": "1", "c": "2"}, {"crc32c": "0a1b2c3d"})
    # Names other tools wrote come back lower-cased, and unknown escapes are left alone.
    assert decode_metadata({"Author": "x", "my_name": "y"}) == (
        {"author": "x", "my_name": "y"},
        {},
    )


def test_the_no_body_wrapper_of_head_responses_is_unwrapped() -> None:
    mapped = map_azure_error(
        http_error(
            az.ResourceNotFoundError,
            404,
            "BlobNotFound",
            message="Operation returned an invalid status 'The specified blob does not exist.'",
        )
    )
    assert mapped.message == "The specified blob does not exist. (404, BlobNotFound)"

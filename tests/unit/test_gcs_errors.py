"""The gs:// provider's error table, with google.api_core and transport exceptions built by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

import portacloud.errors as pe

pytest.importorskip("google.cloud.storage")

import google.auth.exceptions as auth_exc
import requests
import urllib3.exceptions
from google.api_core import exceptions as api
from google.cloud.storage import exceptions as storage_exc

from portacloud_gcp.errors import map_gcs_error

SESSION_URL = (
    "https://storage.googleapis.com/upload/storage/v1/b/bkt/o"
    "?uploadType=resumable&name=k&upload_id=ADPycdsSECRETSESSIONID"
)


def response(
    status: int,
    *,
    message: str = "The service said no.",
    headers: dict[str, str] | None = None,
    url: str = SESSION_URL,
) -> requests.Response:
    """A finished requests.Response carrying a JSON API error body."""
    resp = requests.Response()
    resp.status_code = status
    resp.reason = "Reason"
    resp.headers.update(headers or {})
    resp._content = json.dumps({"error": {"code": status, "message": message}}).encode()
    resp.request = requests.Request("PUT", url).prepare()
    return resp


def from_status(status: int, **kwargs: object) -> api.GoogleAPICallError:
    error: api.GoogleAPICallError = api.from_http_response(response(status, **kwargs))  # type: ignore[arg-type]
    return error


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (api.BadRequest("bad"), pe.InvalidArgumentError, False),
        (api.Unauthorized("who"), pe.UnauthenticatedError, False),
        (api.Forbidden("no"), pe.PermissionDeniedError, False),
        (api.NotFound("gone"), pe.NotFoundError, False),
        (api.Conflict("exists"), pe.AlreadyExistsError, False),
        (api.PreconditionFailed("stale"), pe.FailedPreconditionError, False),
        (api.RequestRangeNotSatisfiable("range"), pe.InvalidArgumentError, False),
        (api.TooManyRequests("slow down"), pe.ResourceExhaustedError, True),
        (api.InternalServerError("oops"), pe.InternalError, True),
        (api.BadGateway("proxy"), pe.UnavailableError, True),
        (api.ServiceUnavailable("later"), pe.UnavailableError, True),
        (api.GatewayTimeout("slow"), pe.DeadlineExceededError, True),
        (api.MethodNotImplemented("nope"), pe.UnsupportedError, False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_api_core_classes(
    exc: api.GoogleAPICallError, expected: type[pe.PortaCloudError], retryable: bool
) -> None:
    mapped = map_gcs_error(exc)
    assert type(mapped) is expected
    assert mapped.retryable is retryable


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (400, pe.InvalidArgumentError, False),
        (401, pe.UnauthenticatedError, False),
        (403, pe.PermissionDeniedError, False),
        (404, pe.NotFoundError, False),
        (408, pe.DeadlineExceededError, True),
        (412, pe.FailedPreconditionError, False),
        (418, pe.UnknownError, False),
        (429, pe.ResourceExhaustedError, True),
        (500, pe.InternalError, True),
        (503, pe.UnavailableError, True),
        (504, pe.DeadlineExceededError, True),
        (507, pe.UnavailableError, True),
    ],
)
def test_http_responses_by_status(
    status: int, expected: type[pe.PortaCloudError], retryable: bool
) -> None:
    mapped = map_gcs_error(from_status(status))
    assert type(mapped) is expected
    assert mapped.retryable is retryable
    assert f"HTTP {status}" in mapped.message
    assert "The service said no." in mapped.message


def test_429_retry_after_seconds() -> None:
    mapped = map_gcs_error(from_status(429, headers={"Retry-After": "7"}))
    assert isinstance(mapped, pe.ResourceExhaustedError)
    assert mapped.retryable
    assert mapped.retry_after == 7.0


def test_503_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    mapped = map_gcs_error(
        from_status(503, headers={"retry-after": format_datetime(when, usegmt=True)})
    )
    assert isinstance(mapped, pe.UnavailableError)
    assert mapped.retryable
    assert mapped.retry_after is not None
    assert 25 <= mapped.retry_after <= 31


def test_503_without_retry_after() -> None:
    mapped = map_gcs_error(api.ServiceUnavailable("later"))
    assert isinstance(mapped, pe.UnavailableError)
    assert mapped.retry_after is None


def test_unparseable_retry_after_is_ignored() -> None:
    mapped = map_gcs_error(from_status(429, headers={"Retry-After": "soon"}))
    assert mapped is not None
    assert mapped.retry_after is None


def test_messages_never_carry_session_ids_signatures_or_tokens() -> None:
    signed = (
        "https://storage.googleapis.com/b/k?X-Goog-Signature=deadbeefSIG&X-Goog-Credential=sa%40p"
    )
    exc = api.Forbidden(
        f"PUT {SESSION_URL}: denied for Bearer ya29.SECRETTOKEN at {signed}",
        response=None,
    )
    text = str(map_gcs_error(exc))
    for secret in ("SECRETSESSIONID", "SECRETTOKEN", "deadbeefSIG", "sa%40p"):
        assert secret not in text
    raw = from_status(403, message=f"see {SESSION_URL} and access_token=SECRETTOKEN")
    text = str(map_gcs_error(raw))
    assert "SECRETSESSIONID" not in text
    assert "SECRETTOKEN" not in text
    assert "HTTP 403" in text


def test_media_layer_errors_map_by_status() -> None:
    for status, expected in (
        (503, pe.UnavailableError),
        (404, pe.NotFoundError),
        (412, pe.FailedPreconditionError),
    ):
        exc = storage_exc.InvalidResponse(response(status), "Request failed", status)
        mapped = map_gcs_error(exc)
        assert type(mapped) is expected, status
        assert SESSION_URL not in str(mapped)
    corrupt = map_gcs_error(storage_exc.DataCorruption(response(200), "checksum mismatch"))
    assert isinstance(corrupt, pe.ChecksumMismatchError)
    assert corrupt.retryable


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (requests.ConnectionError("reset by peer"), pe.UnavailableError, True),
        (requests.ConnectTimeout("connect"), pe.UnavailableError, True),
        (requests.ReadTimeout("read"), pe.DeadlineExceededError, True),
        (requests.exceptions.ChunkedEncodingError("cut"), pe.UnavailableError, True),
        (urllib3.exceptions.ProtocolError("Connection broken"), pe.UnavailableError, True),
        (
            urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
            pe.DeadlineExceededError,
            True,
        ),
        (auth_exc.DefaultCredentialsError("no ADC"), pe.UnauthenticatedError, False),
        (auth_exc.RefreshError("invalid_grant"), pe.UnauthenticatedError, False),
        (
            auth_exc.RefreshError("metadata server busy", retryable=True),
            pe.UnauthenticatedError,
            True,
        ),
        (auth_exc.TransportError("token endpoint down"), pe.UnavailableError, True),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_transport_and_auth_errors(
    exc: Exception, expected: type[pe.PortaCloudError], retryable: bool
) -> None:
    mapped = map_gcs_error(exc)
    assert type(mapped) is expected
    assert mapped.retryable is retryable
    assert type(exc).__name__ in mapped.message


def test_auth_messages_do_not_echo_the_native_text() -> None:
    # Refresh errors can quote token endpoints' answers; only the class name is kept.
    mapped = map_gcs_error(auth_exc.RefreshError("refresh_token=1//SECRETREFRESH rejected"))
    assert mapped is not None
    assert "SECRETREFRESH" not in str(mapped)


def test_foreign_exceptions_are_not_mapped_and_portable_ones_pass_through() -> None:
    assert map_gcs_error(ValueError("not ours")) is None
    assert map_gcs_error(KeyError("k")) is None
    own = pe.NotFoundError("already portable")
    assert map_gcs_error(own) is own

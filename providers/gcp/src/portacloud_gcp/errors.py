"""The one table that turns Google Cloud Storage failures into portacloud errors.

Every native exception the GCS driver can meet is translated here and nowhere else:
``google.api_core.exceptions`` (the JSON API's HTTP errors), ``google.auth`` errors (credentials
and token refresh), ``requests``/``urllib3`` transport errors (connections, timeouts, truncated
bodies) and the media layer's ``InvalidResponse``/``DataCorruption``.

Lookups are table-first: the exception's class hierarchy is walked from the most specific class
and the first class found in :data:`_BY_CLASS` decides; HTTP errors that no class names fall
back to :data:`_BY_STATUS`, then to "4xx is the caller's, 5xx is transient".

Messages are built from the status and the server's own error text, with URLs cut to their
path and bearer tokens removed, so they never carry credentials or resumable-session ids (a
session URI lets anyone holding it write the object). The native exception stays reachable as
``__cause__``.

This module imports the Google SDK, so only code that runs after a ``gs://`` URL was opened
imports it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import google.auth.exceptions as auth_exceptions
import requests.exceptions as requests_exceptions
import urllib3.exceptions as urllib3_exceptions
from google.api_core import exceptions as api_exceptions

from portacloud.errors import (
    HTTP_STATUS_ERRORS,
    AlreadyExistsError,
    CancelledError,
    ChecksumMismatchError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnknownError,
    UnsupportedError,
)

__all__ = ["map_gcs_error"]

_MESSAGE_MAX = 400


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one kind of native failure becomes a portacloud error."""

    error: type[PortaCloudError]
    retryable: bool | None = None  # None: the error class's default
    what: str = ""  # used when the native exception says nothing useful


def _media_exception_classes() -> dict[type[BaseException], _Rule]:
    """The media layer's exceptions: storage 3.x vendors them, older code used the package."""
    from google.cloud.storage import exceptions as storage_exceptions  # type: ignore[import-untyped]

    classes: dict[type[BaseException], _Rule] = {
        storage_exceptions.DataCorruption: _Rule(
            ChecksumMismatchError, True, "the transferred bytes failed their checksum"
        ),
    }
    try:
        from google import resumable_media
    except ImportError:  # pragma: no cover - google-resumable-media is an optional extra
        return classes
    classes[resumable_media.DataCorruption] = classes[storage_exceptions.DataCorruption]
    return classes


# Most specific classes first is not needed: the lookup walks each exception's MRO.
_BY_CLASS: dict[type[BaseException], _Rule] = {
    # The JSON API's HTTP errors.
    api_exceptions.BadRequest: _Rule(InvalidArgumentError),
    api_exceptions.Unauthorized: _Rule(UnauthenticatedError),
    api_exceptions.Forbidden: _Rule(PermissionDeniedError),
    api_exceptions.NotFound: _Rule(NotFoundError),
    api_exceptions.MethodNotAllowed: _Rule(UnsupportedError),
    api_exceptions.Conflict: _Rule(AlreadyExistsError),
    api_exceptions.LengthRequired: _Rule(InvalidArgumentError),
    api_exceptions.PreconditionFailed: _Rule(FailedPreconditionError),
    api_exceptions.RequestRangeNotSatisfiable: _Rule(InvalidArgumentError),
    api_exceptions.TooManyRequests: _Rule(ResourceExhaustedError, True),
    api_exceptions.Cancelled: _Rule(CancelledError),
    api_exceptions.InternalServerError: _Rule(InternalError, True),
    api_exceptions.MethodNotImplemented: _Rule(UnsupportedError, False),
    api_exceptions.BadGateway: _Rule(UnavailableError, True),
    api_exceptions.ServiceUnavailable: _Rule(UnavailableError, True),
    api_exceptions.GatewayTimeout: _Rule(DeadlineExceededError, True),
    api_exceptions.RetryError: _Rule(DeadlineExceededError, True, "the SDK gave up retrying"),
    # google.auth: finding, refreshing and using credentials.
    auth_exceptions.DefaultCredentialsError: _Rule(
        UnauthenticatedError, False, "no Google credentials were found"
    ),
    auth_exceptions.RefreshError: _Rule(
        UnauthenticatedError, None, "the Google credentials could not be refreshed"
    ),
    auth_exceptions.TransportError: _Rule(
        UnavailableError, True, "the token service could not be reached"
    ),
    auth_exceptions.TimeoutError: _Rule(DeadlineExceededError, True, "token refresh timed out"),
    auth_exceptions.GoogleAuthError: _Rule(UnauthenticatedError, False, "authentication failed"),
    # Transport: requests, and urllib3 underneath it (raised while a body streams).
    requests_exceptions.ConnectTimeout: _Rule(
        UnavailableError, True, "timed out connecting to the service"
    ),
    requests_exceptions.ReadTimeout: _Rule(
        DeadlineExceededError, True, "timed out waiting for the service"
    ),
    requests_exceptions.SSLError: _Rule(UnavailableError, False, "TLS handshake failed"),
    requests_exceptions.ConnectionError: _Rule(
        UnavailableError, True, "the connection failed or was reset"
    ),
    requests_exceptions.ChunkedEncodingError: _Rule(
        UnavailableError, True, "the response body was cut short"
    ),
    requests_exceptions.ContentDecodingError: _Rule(
        UnavailableError, True, "the response body could not be decoded"
    ),
    urllib3_exceptions.ReadTimeoutError: _Rule(
        DeadlineExceededError, True, "timed out reading the response"
    ),
    urllib3_exceptions.ProtocolError: _Rule(
        UnavailableError, True, "the connection broke mid-response"
    ),
    urllib3_exceptions.DecodeError: _Rule(
        UnavailableError, True, "the response body could not be decoded"
    ),
    **_media_exception_classes(),
}

# HTTP statuses for errors whose class the table does not name (an InvalidResponse from the
# media layer, or an api_core class created for an unusual status).
_BY_STATUS: dict[int, _Rule] = {
    **{status: _Rule(error) for status, error in HTTP_STATUS_ERRORS.items()},
    408: _Rule(DeadlineExceededError, True),
    409: _Rule(AlreadyExistsError),
    499: _Rule(CancelledError),
    500: _Rule(InternalError, True),
    504: _Rule(DeadlineExceededError, True),
}

_URL = re.compile(r"\b(https?://[^\s?#'\"]*)[?#][^\s'\"]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[\w.~+/=-]+")
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:access_token|upload_id|x-goog-signature|x-goog-credential|signature|sig|key)=)"
    r"[^\s&'\"]+"
)
_REQUEST_PREFIX = re.compile(r"^[A-Z]+ \S+: ")


def _scrub(text: str) -> str:
    """Drop URL queries (session ids, signatures) and anything shaped like a token."""
    text = _URL.sub(r"\1", text)
    text = _BEARER.sub(r"\1<redacted>", text)
    text = _SECRET_PARAM.sub(r"\1<redacted>", text)
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 1] + "…"


def _headers_of(response: object) -> Mapping[str, str]:
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else {}


def _retry_after(response: object) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    headers = _headers_of(response)
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(exc: api_exceptions.GoogleAPICallError) -> str:
    """The service's own explanation, without the request line the SDK prefixes it with."""
    for detail in exc.errors:
        message = detail.get("message") if isinstance(detail, Mapping) else None
        if isinstance(message, str) and message:
            return message
    message = _body_message(exc.response)
    if message:
        return message
    return _REQUEST_PREFIX.sub("", str(exc.message or ""), count=1)


def _body_message(response: object) -> str | None:
    """``error.message`` of a JSON error body (the media layer's errors keep only the body)."""
    json = getattr(response, "json", None)
    if not callable(json):
        return None
    try:
        payload = json()
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    return message if isinstance(message, str) and message else None


def _status_rule(status: int) -> _Rule:
    rule = _BY_STATUS.get(status)
    if rule is not None:
        return rule
    if 500 <= status < 600:
        return _Rule(UnavailableError, True)
    return _Rule(UnknownError, False)


def _build(rule: _Rule, message: str, *, retry_after: float | None = None) -> PortaCloudError:
    return rule.error(_scrub(message), retryable=rule.retryable, retry_after=retry_after)


def _rule_for_class(exc: BaseException) -> _Rule | None:
    for cls in type(exc).__mro__:
        rule = _BY_CLASS.get(cls)
        if rule is not None:
            return rule
    return None


def _invalid_response_status(exc: BaseException) -> int | None:
    """The HTTP status behind a media-layer ``InvalidResponse``, if ``exc`` is one."""
    from google.cloud.storage import exceptions as storage_exceptions

    classes: tuple[type[BaseException], ...] = (storage_exceptions.InvalidResponse,)
    try:
        from google import resumable_media
    except ImportError:  # pragma: no cover - google-resumable-media is an optional extra
        pass
    else:
        classes = (*classes, resumable_media.InvalidResponse)
    if not isinstance(exc, classes):
        return None
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else 0


def map_gcs_error(exc: BaseException) -> PortaCloudError | None:
    """Translate a native exception of the GCS stack, or return ``None`` if it is not one.

    Args:
        exc: What the Google SDK, google.auth, requests or urllib3 raised.

    Returns:
        The portacloud error to raise from ``exc`` (the caller chains ``exc`` as its cause),
        or ``None`` for an exception this table does not know.
    """
    if isinstance(exc, PortaCloudError):
        return exc
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        response = exc.response
        rule = _rule_for_class(exc)
        status = exc.code
        if rule is None or type(exc) in (
            api_exceptions.ClientError,
            api_exceptions.ServerError,
            api_exceptions.GoogleAPICallError,
        ):
            rule = _status_rule(status) if isinstance(status, int) else _Rule(UnknownError)
        prefix = f"HTTP {status}: " if isinstance(status, int) else ""
        return _build(rule, prefix + _server_message(exc), retry_after=_retry_after(response))
    status = _invalid_response_status(exc)
    if status is not None:
        response = getattr(exc, "response", None)
        reason = getattr(response, "reason", None) or "unexpected response from the service"
        return _build(
            _status_rule(status), f"HTTP {status}: {reason}", retry_after=_retry_after(response)
        )
    rule = _rule_for_class(exc)
    if rule is None:
        return None
    if isinstance(exc, auth_exceptions.GoogleAuthError) and rule.retryable is None:
        rule = _Rule(rule.error, exc.retryable, rule.what)
    detail = rule.what or type(exc).__name__
    return _build(rule, f"{detail} ({type(exc).__name__})")

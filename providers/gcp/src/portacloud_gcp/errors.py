"""The one table that turns Google Cloud Storage failures into portacloud errors.

Every native exception the GCS driver can meet is translated here and nowhere else:
``google.api_core.exceptions`` (the JSON API's HTTP errors), ``google.auth`` errors (credentials
and token refresh), ``requests``/``urllib3`` transport errors (connections, timeouts, truncated
bodies) and the media layer's ``InvalidResponse``/``DataCorruption``.

Lookups are table-first (:data:`TABLE`, a :class:`~portacloud.providerkit.ErrorTable`): the
exception's class hierarchy is walked from the most specific class and the first class listed
decides; HTTP errors that no class names fall back to the status, then to "5xx is transient,
anything else unknown".

Messages are built from the status and the server's own error text and pass through
:func:`portacloud.providerkit.scrub` (URLs cut to their path, bearer tokens and signatures
removed), so they never carry credentials or resumable-session ids (a session URI lets anyone
holding it write the object). The native exception stays reachable as
``__cause__``.

This module imports the Google SDK, so only code that runs after a ``gs://`` URL was opened
imports it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import google.auth.exceptions as auth_exceptions
import requests.exceptions as requests_exceptions
import urllib3.exceptions as urllib3_exceptions
from google.api_core import exceptions as api_exceptions

from portacloud.errors import (
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
from portacloud.providerkit import ErrorRule, ErrorTable, retry_after, status_rules

__all__ = ["TABLE", "map_gcs_error"]

_R = ErrorRule


def _media_exception_classes() -> list[tuple[type[BaseException], ErrorRule]]:
    """The media layer's exceptions: storage 3.x vendors them, older code used the package."""
    from google.cloud.storage import exceptions as storage_exceptions  # type: ignore[import-untyped]

    corrupt = _R(ChecksumMismatchError, True, "the transferred bytes failed their checksum")
    classes: list[tuple[type[BaseException], ErrorRule]] = [
        (storage_exceptions.DataCorruption, corrupt)
    ]
    try:
        from google import resumable_media
    except ImportError:  # pragma: no cover - google-resumable-media is an optional extra
        return classes
    return [*classes, (resumable_media.DataCorruption, corrupt)]


#: The class hierarchy decides first (each exception's MRO, most specific class first); HTTP
#: errors no class names fall back to the status (an InvalidResponse from the media layer, or an
#: api_core class created for an unusual status), then to "5xx transient, else unknown".
TABLE = ErrorTable(
    by_type=(
        # The JSON API's HTTP errors.
        (api_exceptions.BadRequest, _R(InvalidArgumentError)),
        (api_exceptions.Unauthorized, _R(UnauthenticatedError)),
        (api_exceptions.Forbidden, _R(PermissionDeniedError)),
        (api_exceptions.NotFound, _R(NotFoundError)),
        (api_exceptions.MethodNotAllowed, _R(UnsupportedError)),
        (api_exceptions.Conflict, _R(AlreadyExistsError)),
        (api_exceptions.LengthRequired, _R(InvalidArgumentError)),
        (api_exceptions.PreconditionFailed, _R(FailedPreconditionError)),
        (api_exceptions.RequestRangeNotSatisfiable, _R(InvalidArgumentError)),
        (api_exceptions.TooManyRequests, _R(ResourceExhaustedError, True)),
        (api_exceptions.Cancelled, _R(CancelledError)),
        (api_exceptions.InternalServerError, _R(InternalError, True)),
        (api_exceptions.MethodNotImplemented, _R(UnsupportedError, False)),
        (api_exceptions.BadGateway, _R(UnavailableError, True)),
        (api_exceptions.ServiceUnavailable, _R(UnavailableError, True)),
        (api_exceptions.GatewayTimeout, _R(DeadlineExceededError, True)),
        (api_exceptions.RetryError, _R(DeadlineExceededError, True, "the SDK gave up retrying")),
        # google.auth: finding, refreshing and using credentials.
        (
            auth_exceptions.DefaultCredentialsError,
            _R(UnauthenticatedError, False, "no Google credentials were found"),
        ),
        (
            auth_exceptions.RefreshError,
            _R(UnauthenticatedError, None, "the Google credentials could not be refreshed"),
        ),
        (
            auth_exceptions.TransportError,
            _R(UnavailableError, True, "the token service could not be reached"),
        ),
        (auth_exceptions.TimeoutError, _R(DeadlineExceededError, True, "token refresh timed out")),
        (auth_exceptions.GoogleAuthError, _R(UnauthenticatedError, False, "authentication failed")),
        # Transport: requests, and urllib3 underneath it (raised while a body streams).
        (
            requests_exceptions.ConnectTimeout,
            _R(UnavailableError, True, "timed out connecting to the service"),
        ),
        (
            requests_exceptions.ReadTimeout,
            _R(DeadlineExceededError, True, "timed out waiting for the service"),
        ),
        (requests_exceptions.SSLError, _R(UnavailableError, False, "TLS handshake failed")),
        (
            requests_exceptions.ConnectionError,
            _R(UnavailableError, True, "the connection failed or was reset"),
        ),
        (
            requests_exceptions.ChunkedEncodingError,
            _R(UnavailableError, True, "the response body was cut short"),
        ),
        (
            requests_exceptions.ContentDecodingError,
            _R(UnavailableError, True, "the response body could not be decoded"),
        ),
        (
            urllib3_exceptions.ReadTimeoutError,
            _R(DeadlineExceededError, True, "timed out reading the response"),
        ),
        (
            urllib3_exceptions.ProtocolError,
            _R(UnavailableError, True, "the connection broke mid-response"),
        ),
        (
            urllib3_exceptions.DecodeError,
            _R(UnavailableError, True, "the response body could not be decoded"),
        ),
        *_media_exception_classes(),
    ),
    by_status=status_rules(
        {
            408: _R(DeadlineExceededError, True),
            409: _R(AlreadyExistsError),
            499: _R(CancelledError),
            500: _R(InternalError, True),
            504: _R(DeadlineExceededError, True),
        }
    ),
)

_REQUEST_PREFIX = re.compile(r"^[A-Z]+ \S+: ")


def _headers_of(response: object) -> Mapping[str, object]:
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else {}


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


def _status_rule(status: int) -> ErrorRule:
    if status in TABLE.by_status or 500 <= status < 600:
        rule = TABLE.rule_for_status(status)
        if rule is not None:
            return rule
    return _R(UnknownError, False)


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
        status = exc.code
        rule = TABLE.rule_for_type(type(exc))
        if rule is None:
            rule = _status_rule(status) if isinstance(status, int) else _R(UnknownError)
        prefix = f"HTTP {status}: " if isinstance(status, int) else ""
        return rule.build(
            prefix + _server_message(exc), retry_after=retry_after(_headers_of(exc.response))
        )
    status = _invalid_response_status(exc)
    if status is not None:
        response = getattr(exc, "response", None)
        reason = getattr(response, "reason", None) or "unexpected response from the service"
        return _status_rule(status).build(
            f"HTTP {status}: {reason}", retry_after=retry_after(_headers_of(response))
        )
    rule = TABLE.rule_for_type(type(exc))
    if rule is None:
        return None
    if isinstance(exc, auth_exceptions.GoogleAuthError) and rule.retryable is None:
        rule = dataclasses.replace(rule, retryable=exc.retryable)
    return rule.build(f"{rule.reason or type(exc).__name__} ({type(exc).__name__})")

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
from functools import partial

import google.auth.exceptions as auth
import requests.exceptions as rq
import urllib3.exceptions as wire
from google.api_core import exceptions as api

import portacloud.errors as pe
from portacloud.providerkit import ErrorRule, ErrorTable, retry_after, status_rules

__all__ = ["TABLE", "map_gcs_error"]

_R = ErrorRule
_Unauth = partial(ErrorRule, pe.UnauthenticatedError)
_Down = partial(ErrorRule, pe.UnavailableError)
_Late = partial(ErrorRule, pe.DeadlineExceededError)


def _media_exception_classes() -> list[tuple[type[BaseException], ErrorRule]]:
    """The media layer's exceptions: storage 3.x vendors them, older code used the package."""
    from google.cloud.storage import exceptions as storage_exceptions  # type: ignore[import-untyped]

    corrupt = _R(pe.ChecksumMismatchError, True, "the transferred bytes failed their checksum")
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
        (api.BadRequest, _R(pe.InvalidArgumentError)),
        (api.Unauthorized, _R(pe.UnauthenticatedError)),
        (api.Forbidden, _R(pe.PermissionDeniedError)),
        (api.NotFound, _R(pe.NotFoundError)),
        (api.MethodNotAllowed, _R(pe.UnsupportedError)),
        (api.Conflict, _R(pe.AlreadyExistsError)),
        (api.LengthRequired, _R(pe.InvalidArgumentError)),
        (api.PreconditionFailed, _R(pe.FailedPreconditionError)),
        (api.RequestRangeNotSatisfiable, _R(pe.InvalidArgumentError)),
        (api.TooManyRequests, _R(pe.ResourceExhaustedError, True)),
        (api.Cancelled, _R(pe.CancelledError)),
        (api.InternalServerError, _R(pe.InternalError, True)),
        (api.MethodNotImplemented, _R(pe.UnsupportedError, False)),
        (api.BadGateway, _R(pe.UnavailableError, True)),
        (api.ServiceUnavailable, _R(pe.UnavailableError, True)),
        (api.GatewayTimeout, _R(pe.DeadlineExceededError, True)),
        (api.RetryError, _R(pe.DeadlineExceededError, True, "the SDK gave up retrying")),
        # google.auth: finding, refreshing and using credentials.
        (auth.DefaultCredentialsError, _Unauth(False, "no Google credentials were found")),
        (auth.RefreshError, _Unauth(None, "the Google credentials could not be refreshed")),
        (auth.TransportError, _Down(True, "the token service could not be reached")),
        (auth.TimeoutError, _Late(True, "token refresh timed out")),
        (auth.GoogleAuthError, _Unauth(False, "authentication failed")),
        # Transport: requests, and urllib3 underneath it (raised while a body streams).
        (rq.ConnectTimeout, _Down(True, "timed out connecting to the service")),
        (rq.ReadTimeout, _Late(True, "timed out waiting for the service")),
        (rq.SSLError, _Down(False, "TLS handshake failed")),
        (rq.ConnectionError, _Down(True, "the connection failed or was reset")),
        (rq.ChunkedEncodingError, _Down(True, "the response body was cut short")),
        (rq.ContentDecodingError, _Down(True, "the response body could not be decoded")),
        (wire.ReadTimeoutError, _Late(True, "timed out reading the response")),
        (wire.ProtocolError, _Down(True, "the connection broke mid-response")),
        (wire.DecodeError, _Down(True, "the response body could not be decoded")),
        *_media_exception_classes(),
    ),
    by_status=status_rules(
        {
            408: _R(pe.DeadlineExceededError, True),
            409: _R(pe.AlreadyExistsError),
            499: _R(pe.CancelledError),
            500: _R(pe.InternalError, True),
            504: _R(pe.DeadlineExceededError, True),
        }
    ),
)

_REQUEST_PREFIX = re.compile(r"^[A-Z]+ \S+: ")


def _headers_of(response: object) -> Mapping[str, object]:
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else {}


def _server_message(exc: api.GoogleAPICallError) -> str:
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
    return _R(pe.UnknownError, False)


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


def map_gcs_error(exc: BaseException) -> pe.PortaCloudError | None:
    """Translate a native exception of the GCS stack, or return ``None`` if it is not one.

    Args:
        exc: What the Google SDK, google.auth, requests or urllib3 raised.

    Returns:
        The portacloud error to raise from ``exc`` (the caller chains ``exc`` as its cause),
        or ``None`` for an exception this table does not know.
    """
    if isinstance(exc, pe.PortaCloudError):
        return exc
    if isinstance(exc, api.GoogleAPICallError):
        status = exc.code
        rule = TABLE.rule_for_type(type(exc))
        if rule is None:
            rule = _status_rule(status) if isinstance(status, int) else _R(pe.UnknownError)
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
    if isinstance(exc, auth.GoogleAuthError) and rule.retryable is None:
        rule = dataclasses.replace(rule, retryable=exc.retryable)
    return rule.build(f"{rule.reason or type(exc).__name__} ({type(exc).__name__})")

"""The one table from Azure Blob Storage failures to portacloud errors.

Azure reports a failure three ways: an ``x-ms-error-code`` (``BlobNotFound``, ``ServerBusy``...)
with an HTTP status, an ``azure.core.exceptions`` class chosen by the SDK from those, or a
transport exception with no response at all. The service's error code is the most precise, so
it is looked up first, then the HTTP status, then the exception class.

Messages are built here from the code, the status and the service's one-line message, never
from ``str(exc)``: the SDK's text carries the whole response body, and a SAS signature or a
shared-key signature can appear in an authentication error's details. Anything that looks like
a credential is redacted even from the one line that is kept.

This module imports ``azure.core`` lazily, inside :func:`map_azure_error`, so that importing the
provider never imports the vendor SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from portacloud.errors import (
    HTTP_STATUS_ERRORS,
    AlreadyExistsError,
    ChecksumMismatchError,
    DeadlineExceededError,
    FailedPreconditionError,
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

__all__ = [
    "BY_ERROR_CODE",
    "BY_EXCEPTION",
    "BY_STATUS",
    "error_from_response",
    "map_azure_error",
    "redact",
    "retry_after_seconds",
]

#: ``x-ms-error-code`` -> portacloud error class. Codes absent here fall back to the status.
BY_ERROR_CODE: Mapping[str, type[PortaCloudError]] = {
    # Missing things.
    "BlobNotFound": NotFoundError,
    "ContainerNotFound": NotFoundError,
    "ResourceNotFound": NotFoundError,
    "CannotVerifyCopySource": NotFoundError,
    # Conditions. BlobAlreadyExists only comes back for If-None-Match: * writes and copies
    # (an unconditional Put Blob overwrites), so it is the create-only condition failing.
    "ConditionNotMet": FailedPreconditionError,
    "TargetConditionNotMet": FailedPreconditionError,
    "SourceConditionNotMet": FailedPreconditionError,
    "BlobAlreadyExists": FailedPreconditionError,
    "BlobOverwritten": FailedPreconditionError,
    # A concurrent commit of the same blob discarded this writer's uncommitted blocks.
    "InvalidBlockList": FailedPreconditionError,
    "PendingCopyOperation": FailedPreconditionError,
    "SnapshotsPresent": FailedPreconditionError,
    "LeaseIdMissing": FailedPreconditionError,
    "LeaseNotPresentWithBlobOperation": FailedPreconditionError,
    "LeaseIdMismatchWithBlobOperation": FailedPreconditionError,
    "BlobArchived": FailedPreconditionError,
    "BlobBeingRehydrated": FailedPreconditionError,
    "ContainerBeingDeleted": FailedPreconditionError,
    "ContainerDisabled": FailedPreconditionError,
    "ContainerAlreadyExists": AlreadyExistsError,
    "ResourceAlreadyExists": AlreadyExistsError,
    # Credentials.
    "AuthenticationFailed": UnauthenticatedError,
    "InvalidAuthenticationInfo": UnauthenticatedError,
    "NoAuthenticationInformation": UnauthenticatedError,
    "AuthorizationFailure": PermissionDeniedError,
    "AuthorizationPermissionMismatch": PermissionDeniedError,
    "AuthorizationResourceTypeMismatch": PermissionDeniedError,
    "AuthorizationServiceMismatch": PermissionDeniedError,
    "AuthorizationProtocolMismatch": PermissionDeniedError,
    "AuthorizationSourceIPMismatch": PermissionDeniedError,
    "InsufficientAccountPermissions": PermissionDeniedError,
    "AccountIsDisabled": PermissionDeniedError,
    # Throttling (ServerBusy is 503 when an account's ingress, egress or request rate is over
    # its limit) and transient service faults.
    "ServerBusy": ResourceExhaustedError,
    "OperationTimedOut": DeadlineExceededError,
    "InternalError": UnavailableError,
    "AccountBeingCreated": UnavailableError,
    # The body arrived damaged (its Content-MD5 did not match): sending it again is safe.
    "Md5Mismatch": ChecksumMismatchError,
    "Crc64Mismatch": ChecksumMismatchError,
    # Requests that can never succeed as sent.
    "InvalidRange": InvalidArgumentError,
    "InvalidMetadata": InvalidArgumentError,
    "MetadataTooLarge": InvalidArgumentError,
    "InvalidHeaderValue": InvalidArgumentError,
    "InvalidQueryParameterValue": InvalidArgumentError,
    "InvalidInput": InvalidArgumentError,
    "InvalidUri": InvalidArgumentError,
    "InvalidResourceName": InvalidArgumentError,
    "OutOfRangeInput": InvalidArgumentError,
    "OutOfRangeQueryParameterValue": InvalidArgumentError,
    "RequestBodyTooLarge": InvalidArgumentError,
    "InvalidBlobOrBlock": InvalidArgumentError,
    "InvalidBlockId": InvalidArgumentError,
    "BlockCountExceedsLimit": InvalidArgumentError,
    "InvalidXmlDocument": InvalidArgumentError,
    "MissingRequiredHeader": InvalidArgumentError,
    "UnsupportedHeader": InvalidArgumentError,
    "RequestUrlFailedToParse": InvalidArgumentError,
    # Features the service does not have ("APINotImplemented" is Azurite's answer to an
    # operation it does not emulate, such as Put Blob From URL).
    "APINotImplemented": UnsupportedError,
    "UnsupportedHttpVerb": UnsupportedError,
    "CopyAcrossAccountsNotSupported": UnsupportedError,
    "FeatureVersionMismatch": UnsupportedError,
}

#: HTTP status -> portacloud error class, for codes the table above does not name.
BY_STATUS: Mapping[int, type[PortaCloudError]] = {
    **HTTP_STATUS_ERRORS,
    408: DeadlineExceededError,
    504: DeadlineExceededError,
}

_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

# Credentials that could end up in a service message: SAS query parameters, connection-string
# keys, Authorization headers, and any long base64 run (account keys, HMAC signatures).
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(sig|se|st|sp|sv|skoid|sktid|skt|ske|sks|skv)=[^&\s;'\"]*"),
    re.compile(r"(?i)(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;\s'\"]*"),
    re.compile(r"(?i)(SharedKey|Bearer)\s+[^\s'\"]+"),
    re.compile(r"[A-Za-z0-9+/]{32,}={0,2}"),
)


_NO_BODY_WRAPPER = re.compile(r"^Operation returned an invalid status '(.*)'$")


def redact(text: str) -> str:
    """Remove anything credential-like from ``text`` (SAS parameters, keys, signatures)."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: _keep_name(m.group(0)), text)
    return text


def _keep_name(secret: str) -> str:
    for sep in ("=", " "):
        name, found, _ = secret.partition(sep)
        if found and name and " " not in name and len(name) < 32:
            return f"{name}{sep}[redacted]"
    return "[redacted]"


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the service asked to wait, from ``x-ms-retry-after-ms`` or ``Retry-After``."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("x-ms-retry-after-ms", 1000.0), ("retry-after-ms", 1000.0)):
        raw = lowered.get(name)
        if raw is not None:
            try:
                return max(0.0, float(raw) / scale)
            except ValueError:
                pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _first_line(message: object) -> str:
    if not isinstance(message, str):
        return ""
    line = message.strip().splitlines()[0] if message.strip() else ""
    # A response without a body (HEAD) gets azure-core's wrapper around the reason phrase.
    wrapped = _NO_BODY_WRAPPER.match(line)
    if wrapped:
        line = wrapped.group(1)
    return redact(line[:300])


def error_from_response(
    status: int | None,
    error_code: str | None,
    *,
    message: str = "",
    headers: Mapping[str, str] | None = None,
) -> PortaCloudError:
    """Build the portacloud error for one Azure response (also used for batch sub-responses).

    Args:
        status: The HTTP status, or ``None`` when no response came back.
        error_code: The ``x-ms-error-code``, if any.
        message: The service's message; only its first line is kept, redacted.
        headers: Response headers, for ``Retry-After``.
    """
    cls = BY_ERROR_CODE.get(error_code or "") or BY_STATUS.get(status or 0)
    if cls is None:
        cls = UnavailableError if status is not None and status >= 500 else UnknownError
    what = ", ".join(str(p) for p in (status, error_code) if p)
    text = _first_line(message) or "the request failed"
    return cls(
        f"{text} ({what})" if what else text,
        retryable=cls.default_retryable
        or status in _RETRYABLE_STATUS
        or issubclass(cls, ChecksumMismatchError),
        retry_after=retry_after_seconds(headers),
    )


def _code_of(exc: Any) -> str | None:
    code = getattr(exc, "error_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            code = headers.get("x-ms-error-code")
    if code is None:
        return None
    # The SDK turns known codes into a str-valued enum; the table is keyed by the wire value.
    return str(getattr(code, "value", code))


#: ``azure.core.exceptions`` raised without a usable HTTP status, in the order they are tried
#: (subclasses first): class name -> (portacloud error class, message).
BY_EXCEPTION: tuple[tuple[str, type[PortaCloudError], str], ...] = (
    (
        "ServiceRequestTimeoutError",
        DeadlineExceededError,
        "connecting to Azure Blob Storage timed out",
    ),
    (
        "ServiceResponseTimeoutError",
        DeadlineExceededError,
        "Azure Blob Storage did not answer in time",
    ),
    ("ServiceRequestError", UnavailableError, "could not send the request to Azure Blob Storage"),
    (
        "ServiceResponseError",
        UnavailableError,
        "the connection to Azure Blob Storage broke before the response was read",
    ),
    (
        "DecodeError",
        UnavailableError,
        "the response body from Azure Blob Storage was cut short or unreadable",
    ),
)


def _damaged_in_transit(exc: BaseException) -> PortaCloudError | None:
    """Failures the SDK raises itself when an answer or a body arrived damaged."""
    from azure.core import exceptions as az

    if isinstance(exc, az.DeserializationError):
        # Not an AzureError: a response whose headers were cut short still parses, with a
        # mangled last header (a date such as "Fri, 27"), and only the SDK's deserializer
        # notices. A transient fault, like a body cut short.
        return UnavailableError(
            "the response from Azure Blob Storage was cut short or unreadable", retryable=True
        )
    if type(exc) is az.AzureError and "MD5 mismatch" in str(getattr(exc, "message", "")):
        # The SDK's own check of a Content-MD5 (sent with an upload, echoed by the service):
        # a body or an answer damaged on the way. Sending the bytes again is safe.
        return ChecksumMismatchError(
            "the Content-MD5 of the transfer did not match: the bytes or the answer were "
            "damaged in transit",
            retryable=True,
        )
    return None


def map_azure_error(exc: BaseException) -> PortaCloudError | None:
    """Translate an ``azure.core`` exception into a portacloud error, or ``None``.

    The native exception is not attached here: the portable layer raises the result ``from``
    the native exception, which keeps it reachable through ``as_native``.
    """
    from azure.core import exceptions as az

    damaged = _damaged_in_transit(exc)
    if damaged is not None or not isinstance(exc, az.AzureError):
        return damaged
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    if isinstance(exc, az.ClientAuthenticationError) and response is None:
        # Raised before any request: a credential chain with nothing usable, or a shared key
        # that is not base64.
        detail = _first_line(getattr(exc, "message", "")) or type(exc).__name__
        return UnauthenticatedError(f"no usable Azure credential: {detail}")
    for name, cls, message in BY_EXCEPTION:
        if isinstance(exc, getattr(az, name)):
            return cls(message, retryable=True)
    if isinstance(exc, az.HttpResponseError):
        if status is None:
            # The downloader wraps a body that broke off mid-read without a status.
            return UnavailableError(
                "the response from Azure Blob Storage was cut short", retryable=True
            )
        headers = getattr(response, "headers", None)
        return error_from_response(
            int(status),
            _code_of(exc),
            message=getattr(exc, "message", "") or "",
            headers=dict(headers) if headers is not None else None,
        )
    return UnknownError(f"unexpected {type(exc).__name__} from the Azure SDK")

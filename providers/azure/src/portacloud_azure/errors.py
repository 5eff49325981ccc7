"""The one table from Azure Blob Storage failures to portacloud errors.

Azure reports a failure three ways: an ``x-ms-error-code`` (``BlobNotFound``, ``ServerBusy``...)
with an HTTP status, an ``azure.core.exceptions`` class chosen by the SDK from those, or a
transport exception with no response at all. An answer is looked up by the service's error code
first, the most precise, then by its HTTP status; a failure without a usable answer by its
exception class.

Messages are built here from the code, the status and the service's one-line message, never
from ``str(exc)``: the SDK's text carries the whole response body, and a SAS signature or a
shared-key signature can appear in an authentication error's details. Anything that looks like
a credential is scrubbed even from the one line that is kept.

This module imports ``azure.core`` lazily (the exception rows of the table are built on first
use) so that importing the provider never imports the vendor SDK.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from portacloud import errors as pe
from portacloud.logging_redaction import REDACTED
from portacloud.providerkit import (
    TRANSIENT_STATUSES,
    ErrorRule,
    ErrorTable,
    retry_after,
    scrub,
    status_rules,
)

__all__ = [
    "ERRORS",
    "error_code",
    "error_from_response",
    "guarded",
    "map_azure_error",
    "scrub_message",
    "status_of",
    "translate",
]

_T = TypeVar("_T")


def _rows(
    error: type[pe.PortaCloudError], *codes: str, retryable: bool | None = None
) -> dict[str, ErrorRule]:
    return {code: ErrorRule(error, retryable) for code in codes}


_BY_CODE: Mapping[str, ErrorRule] = MappingProxyType(
    {
        **_rows(
            pe.NotFoundError,
            "BlobNotFound",
            "ContainerNotFound",
            "ResourceNotFound",
            "CannotVerifyCopySource",
        ),
        # BlobAlreadyExists only comes back for If-None-Match: * writes and copies (an
        # unconditional Put Blob overwrites), so it is the create-only condition failing.
        # InvalidBlockList: a concurrent commit of the same blob discarded this writer's
        # uncommitted blocks.
        **_rows(
            pe.FailedPreconditionError,
            "ConditionNotMet",
            "TargetConditionNotMet",
            "SourceConditionNotMet",
            "BlobAlreadyExists",
            "BlobOverwritten",
            "InvalidBlockList",
            "PendingCopyOperation",
            "SnapshotsPresent",
            "LeaseIdMissing",
            "LeaseNotPresentWithBlobOperation",
            "LeaseIdMismatchWithBlobOperation",
            "BlobArchived",
            "BlobBeingRehydrated",
            "ContainerBeingDeleted",
            "ContainerDisabled",
        ),
        **_rows(pe.AlreadyExistsError, "ContainerAlreadyExists", "ResourceAlreadyExists"),
        **_rows(
            pe.UnauthenticatedError,
            "AuthenticationFailed",
            "InvalidAuthenticationInfo",
            "NoAuthenticationInformation",
        ),
        **_rows(
            pe.PermissionDeniedError,
            "AuthorizationFailure",
            "AuthorizationPermissionMismatch",
            "AuthorizationResourceTypeMismatch",
            "AuthorizationServiceMismatch",
            "AuthorizationProtocolMismatch",
            "AuthorizationSourceIPMismatch",
            "InsufficientAccountPermissions",
            "AccountIsDisabled",
        ),
        # Throttling (ServerBusy is 503 when an account's ingress, egress or request rate is
        # over its limit) and transient service faults.
        **_rows(pe.ResourceExhaustedError, "ServerBusy"),
        **_rows(pe.DeadlineExceededError, "OperationTimedOut"),
        **_rows(pe.UnavailableError, "InternalError", "AccountBeingCreated"),
        # The body arrived damaged (its Content-MD5 did not match): sending it again is safe.
        **_rows(pe.ChecksumMismatchError, "Md5Mismatch", "Crc64Mismatch", retryable=True),
        # Requests that can never succeed as sent.
        **_rows(
            pe.InvalidArgumentError,
            "InvalidRange",
            "InvalidMetadata",
            "MetadataTooLarge",
            "InvalidHeaderValue",
            "InvalidQueryParameterValue",
            "InvalidInput",
            "InvalidUri",
            "InvalidResourceName",
            "OutOfRangeInput",
            "OutOfRangeQueryParameterValue",
            "RequestBodyTooLarge",
            "InvalidBlobOrBlock",
            "InvalidBlockId",
            "BlockCountExceedsLimit",
            "InvalidXmlDocument",
            "MissingRequiredHeader",
            "UnsupportedHeader",
            "RequestUrlFailedToParse",
        ),
        # Features the service does not have ("APINotImplemented" is Azurite's answer to an
        # operation it does not emulate, such as Put Blob From URL).
        **_rows(
            pe.UnsupportedError,
            "APINotImplemented",
            "UnsupportedHttpVerb",
            "CopyAcrossAccountsNotSupported",
            "FeatureVersionMismatch",
        ),
    }
)

#: Azure's whole table: ``x-ms-error-code`` rows, then HTTP statuses (408 and 504 are the
#: service's timeouts). The exception rows need ``azure.core`` and are added on first use.
ERRORS = ErrorTable(
    by_code=_BY_CODE,
    by_status=status_rules(
        {
            408: ErrorRule(pe.DeadlineExceededError, True),
            504: ErrorRule(pe.DeadlineExceededError, True),
        }
    ),
)


@functools.cache
def _table() -> ErrorTable:
    """:data:`ERRORS` with its rows for ``azure.core`` exceptions raised without an answer."""
    from azure.core import exceptions as az

    def transient(reason: str, error: type[pe.PortaCloudError] = pe.UnavailableError) -> ErrorRule:
        return ErrorRule(error, True, reason)

    return dataclasses.replace(
        ERRORS,
        by_type=(
            (
                az.ServiceRequestTimeoutError,
                transient("connecting to Azure Blob Storage timed out", pe.DeadlineExceededError),
            ),
            (
                az.ServiceResponseTimeoutError,
                transient("Azure Blob Storage did not answer in time", pe.DeadlineExceededError),
            ),
            (az.ServiceRequestError, transient("could not send the request to Azure Blob Storage")),
            (
                az.ServiceResponseError,
                transient(
                    "the connection to Azure Blob Storage broke before the response was read"
                ),
            ),
            (
                az.DecodeError,
                transient("the response body from Azure Blob Storage was cut short or unreadable"),
            ),
        ),
    )


# The shared scrubber does not know a bare HMAC-SHA256 signature (32 bytes, 44 base64
# characters), which Azure quotes in an AuthenticationFailed detail: "The MAC signature found in
# the HTTP request '<signature>' is not the same as any computed signature".
_MAC_SIGNATURE = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])")
_NO_BODY_WRAPPER = re.compile(r"^Operation returned an invalid status '(.*)'$")


def scrub_message(text: str, *, max_chars: int | None = 300) -> str:
    """``text`` scrubbed of credentials (:func:`portacloud.providerkit.scrub`, and MACs)."""
    return _MAC_SIGNATURE.sub(REDACTED, scrub(text, max_chars=max_chars))


def _first_line(message: object) -> str:
    if not isinstance(message, str) or not message.strip():
        return ""
    line = message.strip().splitlines()[0]
    # A response without a body (HEAD) gets azure-core's wrapper around the reason phrase.
    wrapped = _NO_BODY_WRAPPER.match(line)
    if wrapped:
        line = wrapped.group(1)
    return scrub_message(line)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK exception, or ``None`` when no answer came back."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def error_code(exc: BaseException) -> str | None:
    """The ``x-ms-error-code`` of an SDK exception, as parsed or from the response headers."""
    code = getattr(exc, "error_code", None)
    if code is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        if headers is not None:
            code = headers.get("x-ms-error-code")
    # The SDK turns known codes into a str-valued enum; the table is keyed by the wire value.
    return None if code is None else str(getattr(code, "value", code))


def _status_rule(status: int | None) -> ErrorRule:
    rule = ERRORS.by_status.get(status) if status is not None else None
    if rule is not None:
        return rule
    if status is not None and status >= 500:
        return ErrorRule(pe.UnavailableError, True)
    return ErrorRule(pe.UnknownError)


def error_from_response(
    status: int | None,
    code: str | None,
    *,
    message: str = "",
    headers: Mapping[str, str] | None = None,
) -> pe.PortaCloudError:
    """Build the portacloud error for one Azure response (also used for batch sub-responses).

    Args:
        status: The HTTP status, or ``None`` when no response came back.
        code: The ``x-ms-error-code``, if any.
        message: The service's message; only its first line is kept, scrubbed.
        headers: Response headers, for ``Retry-After``.
    """
    rule = ERRORS.rule(code=code) or _status_rule(status)
    what = ", ".join(str(p) for p in (status, code) if p)
    text = _first_line(message) or "the request failed"
    # The line is at most 300 characters: with the status and code it stays under the 400
    # that build() keeps.
    error = rule.build(f"{text} ({what})" if what else text, retry_after=retry_after(headers))
    # A transient status is worth another try whatever the code says.
    error.retryable = error.retryable or status in TRANSIENT_STATUSES
    return error


def _damaged_in_transit(exc: BaseException) -> pe.PortaCloudError | None:
    """Failures the SDK raises itself when an answer or a body arrived damaged."""
    from azure.core import exceptions as az

    if isinstance(exc, az.DeserializationError):
        # Not an AzureError: a response whose headers were cut short still parses, with a
        # mangled last header (a date such as "Fri, 27"), and only the SDK's deserializer
        # notices. A transient fault, like a body cut short.
        return pe.UnavailableError(
            "the response from Azure Blob Storage was cut short or unreadable", retryable=True
        )
    if type(exc) is az.AzureError and "MD5 mismatch" in str(getattr(exc, "message", "")):
        # The SDK's own check of a Content-MD5 (sent with an upload, echoed by the service):
        # a body or an answer damaged on the way. Sending the bytes again is safe.
        return pe.ChecksumMismatchError(
            "the Content-MD5 of the transfer did not match: the bytes or the answer were "
            "damaged in transit",
            retryable=True,
        )
    return None


def map_azure_error(exc: BaseException) -> pe.PortaCloudError | None:
    """Translate an ``azure.core`` exception into a portacloud error, or ``None``.

    The native exception is not attached here: the portable layer raises the result ``from``
    the native exception, which keeps it reachable through ``as_native``.
    """
    from azure.core import exceptions as az

    damaged = _damaged_in_transit(exc)
    if damaged is not None or not isinstance(exc, az.AzureError):
        return damaged
    response = getattr(exc, "response", None)
    status = status_of(exc) or getattr(response, "status_code", None)
    if isinstance(exc, az.ClientAuthenticationError) and response is None:
        # Raised before any request: a credential chain with nothing usable, or a shared key
        # that is not base64.
        detail = _first_line(getattr(exc, "message", "")) or type(exc).__name__
        return pe.UnauthenticatedError(f"no usable Azure credential: {detail}")
    transport = _table().rule_for_type(type(exc))
    if transport is not None:
        return transport.build()
    if isinstance(exc, az.HttpResponseError):
        if status is None:
            # The downloader wraps a body that broke off mid-read without a status.
            return pe.UnavailableError(
                "the response from Azure Blob Storage was cut short", retryable=True
            )
        headers = getattr(response, "headers", None)
        return error_from_response(
            int(status),
            error_code(exc),
            message=getattr(exc, "message", "") or "",
            headers=dict(headers) if headers is not None else None,
        )
    return pe.UnknownError(f"unexpected {type(exc).__name__} from the Azure SDK")


def translate(exc: Exception) -> pe.PortaCloudError:
    """Return ``exc`` as a portacloud error (used where the driver handles errors itself)."""
    if isinstance(exc, pe.PortaCloudError):
        return exc
    mapped = map_azure_error(exc)
    if mapped is None:
        mapped = pe.UnknownError(f"unexpected {type(exc).__name__} from the Azure SDK")
    mapped.__cause__ = exc
    return mapped


def guarded(fn: Callable[[], _T]) -> _T:
    """Run ``fn``, raising a portacloud error (retryable flag intact) for a native failure."""
    try:
        return fn()
    except pe.PortaCloudError:
        raise
    except Exception as exc:
        raise translate(exc) from exc

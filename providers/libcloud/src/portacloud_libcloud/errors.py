"""The one table that turns libcloud failures into portacloud errors, storage and compute alike.

libcloud reports failures in several shapes, and the lookup goes from the most to the least
precise:

1. the exception type, when libcloud has a specific one (``ObjectDoesNotExistError``,
   ``ContainerDoesNotExistError``, ``ObjectHashMismatchError``, ``RateLimitReachedError``...);
2. the service's own error code, found in what libcloud kept of the answer: the ``<Code>`` of
   an S3/Azure XML body, the ``Code: message`` lines of EC2, the ``[Code] message`` of Azure
   Resource Manager, the ``code`` attribute of Google errors;
3. the HTTP status: ``ProviderError.http_code``, ``BaseHTTPError.code``, or the status that
   libcloud's generic ``LibcloudError`` only spells out in its text ("Unknown error. Status
   code: 412");
4. the transport exceptions of ``requests``/``urllib3`` and the socket layer.

Codes and statuses are rows of one :class:`~portacloud.providerkit.ErrorTable` (:data:`TABLE`);
classes are matched by name (:data:`BY_CLASS`). Messages are rebuilt from the exception's text
through :func:`portacloud.providerkit.scrub`; libcloud's own ``repr`` of the driver is left out.
"""

from __future__ import annotations

import errno
import re
import ssl
from collections.abc import Mapping

import portacloud.errors as pe
from portacloud.providerkit import ErrorRule, ErrorTable, retry_after, scrub, status_rules

__all__ = [
    "BY_CLASS",
    "BY_CODE",
    "BY_STATUS",
    "TABLE",
    "http_status",
    "map_libcloud_error",
    "native_code",
    "native_failure",
]

_R = ErrorRule


def _rows(*groups: tuple[ErrorRule, str]) -> dict[str, ErrorRule]:
    """Each rule for every name in its whitespace-separated list."""
    return {name: rule for rule, names in groups for name in names.split()}


#: libcloud (and requests/urllib3) exception classes by name, checked along the MRO, most
#: derived first. Names rather than imports: driver modules (Google's, OpenStack's) are only
#: imported when a URL needs them, and this table must not import them either.
BY_CLASS: Mapping[str, ErrorRule] = _rows(
    # storage and compute, Google (libcloud.common.google), requests / urllib3 / sockets
    (
        _R(pe.NotFoundError),
        """ObjectDoesNotExistError ContainerDoesNotExistError KeyPairDoesNotExistError
        ResourceNotFoundError""",
    ),
    (_R(pe.AlreadyExistsError), "ContainerAlreadyExistsError ResourceExistsError"),
    (_R(pe.FailedPreconditionError), "ContainerIsNotEmptyError ResourceInUseError"),
    (
        _R(pe.InvalidArgumentError),
        """InvalidContainerNameError IdempotentParamError InvalidRequestError InvalidURL
        MissingSchema""",
    ),
    # MD5 of what was sent differs from what the server stored: a retry resends the bytes.
    (_R(pe.ChecksumMismatchError, retryable=True), "ObjectHashMismatchError"),
    (_R(pe.ResourceExhaustedError, retryable=False), "QuotaExceededError"),
    (_R(pe.UnauthenticatedError), "GoogleAuthError"),
    (_R(pe.ResourceExhaustedError), "RateLimitReachedError"),
    (
        _R(pe.UnavailableError),
        """ServiceUnavailableError ConnectTimeout ChunkedEncodingError ContentDecodingError
        ProtocolError IncompleteRead ConnectionError""",
    ),
    # An answer libcloud could not parse: repeating the request gets the same answer.
    (_R(pe.InternalError), "MalformedResponseError"),
    (_R(pe.DeadlineExceededError), "ReadTimeout Timeout TimeoutError"),
    (_R(pe.UnavailableError, retryable=False), "SSLError"),
)

#: The services' own error codes (EC2, S3, Azure Storage and Resource Manager, GCE, OpenStack).
BY_CODE: Mapping[str, ErrorRule] = _rows(
    # A malformed id names no instance: for a portable caller that is the same as an unknown one.
    (
        _R(pe.NotFoundError),
        """NoSuchKey NoSuchBucket NotFound notFound BlobNotFound ContainerNotFound
        ResourceNotFound ResourceGroupNotFound itemNotFound InvalidInstanceID.NotFound
        InvalidInstanceID.Malformed InvalidKeyPair.NotFound""",
    ),
    (
        _R(pe.AlreadyExistsError),
        """alreadyExists InvalidKeyPair.Duplicate BucketAlreadyExists BucketAlreadyOwnedByYou
        ContainerAlreadyExists""",
    ),
    (
        _R(pe.FailedPreconditionError),
        """PreconditionFailed ConditionNotMet BlobAlreadyExists BucketNotEmpty
        IncorrectInstanceState IncorrectState OperationNotAllowed Conflict resourceNotReady""",
    ),
    (
        _R(pe.UnauthenticatedError),
        """AuthFailure InvalidClientTokenId InvalidAccessKeyId SignatureDoesNotMatch ExpiredToken
        AuthenticationFailed InvalidAuthenticationToken ExpiredAuthenticationToken""",
    ),
    (
        _R(pe.PermissionDeniedError),
        """AccessDenied UnauthorizedOperation AuthorizationFailure AuthorizationFailed
        AuthorizationPermissionMismatch forbidden OptInRequired""",
    ),
    (
        _R(pe.ResourceExhaustedError),
        """SlowDown ServerBusy RequestLimitExceeded Throttling TooManyRequests rateLimitExceeded
        userRateLimitExceeded InsufficientInstanceCapacity ZONE_RESOURCE_POOL_EXHAUSTED""",
    ),
    # A quota does not lift by waiting a few seconds.
    (
        _R(pe.ResourceExhaustedError, retryable=False),
        """SkuNotAvailable InstanceLimitExceeded VcpuLimitExceeded quotaExceeded QuotaExceeded
        OperationNotAllowedQuota""",
    ),
    (
        _R(pe.UnavailableError),
        "pe.InternalError InternalServerError ServiceUnavailable Unavailable RequestTimeout",
    ),
    (_R(pe.DeadlineExceededError), "OperationTimedOut"),
    (_R(pe.ChecksumMismatchError, retryable=True), "BadDigest Md5Mismatch"),
    # Requests that can never succeed.
    (
        _R(pe.InvalidArgumentError),
        """InvalidParameterValue InvalidParameterCombination InvalidParameter MissingParameter
        InvalidInstanceType InvalidAMIID.NotFound InvalidAMIID.Malformed InvalidArgument
        InvalidRequest InvalidRange InvalidMetadata InvalidResourceName InvalidHeaderValue
        invalid badRequest BadRequest""",
    ),
    (_R(pe.UnsupportedError), "NotImplemented Unsupported UnsupportedOperation"),
)

#: The codes, then HTTP statuses for answers without a known code.
TABLE = ErrorTable(by_code=BY_CODE, by_status=status_rules())
BY_STATUS: Mapping[int, ErrorRule] = TABLE.by_status

# Codes as the services write them, in the text libcloud kept of the answer.
_XML_CODE = re.compile(r"<Code>\s*([A-Za-z][\w.]*)\s*</Code>")
_BRACKET_CODE = re.compile(r"^\s*\[([A-Za-z][\w.]*)\]")
_LINE_CODE = re.compile(r"^\s*([A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*):\s", re.MULTILINE)
_JSON_CODE = re.compile(r"""["'](?:code|reason)["']\s*:\s*["']([A-Za-z][\w.]*)["']""")
_STATUS_TEXT = re.compile(r"(?i)\b(?:status(?:[ _]?code)?|code)\s*[:=]?\s*(\d{3})\b")

_MAX_MESSAGE = 500


def _text(exc: BaseException) -> str:
    """What the exception says, without libcloud's ``repr`` of the driver around it."""
    for attr in ("value", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, Mapping):
            inner = value.get("message")
            return str(inner if inner is not None else value)
        if value is not None and str(value):
            return str(value)
    # libcloud's object and container errors often carry only the name.
    for attr, what in (("object_name", "object"), ("container_name", "container")):
        name = getattr(exc, attr, None)
        if name:
            return f"{what} {name!r}"
    if type(exc).__module__.startswith("libcloud."):
        return ""  # its str() is a repr of the driver object, which says nothing
    return str(exc)


def native_code(exc: BaseException) -> str | None:
    """The service's own error code that the exception carries, if any.

    Examples: ``NoSuchKey`` from an S3 XML body, ``InvalidInstanceID.NotFound`` from EC2's
    ``Code: message`` lines, ``ResourceNotFound`` from Azure Resource Manager's
    ``[Code] message``, ``notFound`` from a Google error.
    """
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    text = _text(exc)
    for pattern in (_XML_CODE, _BRACKET_CODE, _LINE_CODE, _JSON_CODE):
        match = pattern.search(text)
        if match is not None:
            return match.group(1)
    return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind the exception, from its attributes or, failing that, its text."""
    for attr in ("http_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status
    match = _STATUS_TEXT.search(_text(exc))
    return int(match.group(1)) if match else None


def _retry_after(exc: BaseException) -> float | None:
    explicit = getattr(exc, "retry_after", None)  # RateLimitReachedError read it already
    if isinstance(explicit, int | float) and explicit > 0:
        return float(explicit)
    headers = getattr(exc, "headers", None)
    return retry_after(headers) if isinstance(headers, Mapping) else None


def _by_class(exc: BaseException) -> ErrorRule | None:
    if isinstance(exc, ssl.SSLError):
        return BY_CLASS["SSLError"]
    for cls in type(exc).__mro__:
        rule = BY_CLASS.get(cls.__name__)
        if rule is not None:
            return rule
    return None


def _is_libcloud_or_transport(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("libcloud.", "requests.", "urllib3.")) or isinstance(
        exc, ConnectionError | TimeoutError | ssl.SSLError
    )


def _spool_full(exc: BaseException) -> bool:
    """The local spool file (see storage.py) ran out of disk."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _credentials_rule(exc: BaseException, code: str | None) -> ErrorRule | None:
    """libcloud raises ``InvalidCredsError`` for both 401 and 403; the code tells them apart."""
    if not any(cls.__name__ == "InvalidCredsError" for cls in type(exc).__mro__):
        return None
    if code is not None and code in BY_CODE:
        return BY_CODE[code]
    return _R(pe.UnauthenticatedError)


def map_libcloud_error(exc: BaseException) -> pe.PortaCloudError | None:
    """Translate a libcloud, requests, urllib3 or socket failure into a portacloud error.

    Args:
        exc: What a libcloud driver (or the HTTP stack under it) raised.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        libcloud's to interpret (programming errors such as ``TypeError``).
    """
    if isinstance(exc, pe.PortaCloudError):
        return exc
    if _spool_full(exc):
        return pe.ResourceExhaustedError(
            f"the local spool file ran out of space: {exc}", retryable=False
        )
    if not _is_libcloud_or_transport(exc):
        return None
    code = native_code(exc)
    status = http_status(exc)
    rule = _credentials_rule(exc, code) or _by_class(exc)
    if rule is None and code is not None:
        rule = TABLE.rule(code=code)
    if rule is None and status is not None:
        rule = BY_STATUS.get(status) or (_R(pe.UnavailableError) if status >= 500 else None)
    detail = scrub(_text(exc), max_chars=_MAX_MESSAGE)
    label = type(exc).__name__
    if code and code not in detail:
        label += f" {code}"
    if status is not None and str(status) not in detail:
        label += f" (HTTP {status})"
    message = f"{label}: {detail}" if detail else label
    return (rule or _R(pe.UnknownError)).build(
        message, retry_after=_retry_after(exc), max_chars=2 * _MAX_MESSAGE
    )


def native_failure(exc: Exception, what: str) -> pe.PortaCloudError:
    """The error for a failure while building or first using a libcloud driver.

    Args:
        exc: What the driver's constructor (or its first request) raised.
        what: The driver, for the message (``libcloud driver 's3'``).
    """
    mapped = map_libcloud_error(exc)
    if mapped is not None:
        return mapped
    if isinstance(exc, TypeError | ValueError | KeyError | AttributeError):
        # libcloud validates constructor arguments with plain Python exceptions.
        return pe.InvalidArgumentError(f"{what}: {type(exc).__name__}: {exc}")
    return pe.UnsupportedError(f"{what}: {type(exc).__name__}: {exc}")

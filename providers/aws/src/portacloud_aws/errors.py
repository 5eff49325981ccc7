"""The one table that turns AWS (S3, EC2, SSM) and botocore failures into portacloud errors.

Lookup order for a ``ClientError``: the service's error code (``NoSuchKey``, ``SlowDown``,
``InvalidInstanceID.NotFound``...), then the HTTP status (HEAD responses have no body, so their
code is just ``"404"``), then the status class. botocore's own exceptions (connection
failures, timeouts, missing credentials) are matched by type, most specific first. Messages are
rebuilt from the code and the server's message, with anything that looks like a credential or a
signature scrubbed out.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from urllib3 import exceptions as urllib3_exc

from portacloud.errors import (
    HTTP_STATUS_ERRORS,
    AlreadyExistsError,
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

__all__ = ["error_code", "http_status", "make_client_error", "map_ec2_error", "map_s3_error"]

# botocore ships no type information: its exceptions are Any at this boundary.
boto_exc: Any = importlib.import_module("botocore.exceptions")


@dataclass(frozen=True, slots=True)
class _Rule:
    error: type[PortaCloudError]
    retryable: bool | None = None  # None: the error class's default


_R = _Rule

#: S3 error codes (AWS, plus the spellings S3-compatible servers use).
BY_CODE: Mapping[str, _Rule] = {
    # missing things
    "NoSuchKey": _R(NotFoundError),
    "NoSuchBucket": _R(NotFoundError),
    "NoSuchUpload": _R(NotFoundError),
    "NoSuchVersion": _R(NotFoundError),
    "NotFound": _R(NotFoundError),
    # conditions
    "PreconditionFailed": _R(FailedPreconditionError),
    # AWS: "a concurrent operation occurred during the upload ... you should retry": the retry
    # settles it (success, or 412 if the other writer won).
    "ConditionalRequestConflict": _R(FailedPreconditionError, retryable=True),
    "InvalidObjectState": _R(FailedPreconditionError),
    "BucketNotEmpty": _R(FailedPreconditionError),
    "BucketAlreadyExists": _R(AlreadyExistsError),
    "BucketAlreadyOwnedByYou": _R(AlreadyExistsError),
    # who you are
    "InvalidAccessKeyId": _R(UnauthenticatedError),
    "SignatureDoesNotMatch": _R(UnauthenticatedError),
    "ExpiredToken": _R(UnauthenticatedError),
    "InvalidToken": _R(UnauthenticatedError),
    "TokenRefreshRequired": _R(UnauthenticatedError),
    "MissingSecurityHeader": _R(UnauthenticatedError),
    "AuthorizationHeaderMalformed": _R(UnauthenticatedError),
    "RequestTimeTooSkewed": _R(UnauthenticatedError),
    "AnonymousAccessDenied": _R(UnauthenticatedError),
    # what you may do
    "AccessDenied": _R(PermissionDeniedError),
    "AllAccessDisabled": _R(PermissionDeniedError),
    "AccountProblem": _R(PermissionDeniedError),
    "InvalidPayer": _R(PermissionDeniedError),
    # slow down
    "SlowDown": _R(ResourceExhaustedError),
    "Throttling": _R(ResourceExhaustedError),
    "ThrottlingException": _R(ResourceExhaustedError),
    "ThrottledException": _R(ResourceExhaustedError),
    "RequestThrottled": _R(ResourceExhaustedError),
    "RequestLimitExceeded": _R(ResourceExhaustedError),
    "TooManyRequests": _R(ResourceExhaustedError),
    "TooManyRequestsException": _R(ResourceExhaustedError),
    "BandwidthLimitExceeded": _R(ResourceExhaustedError),
    "ServiceUnavailable": _R(ResourceExhaustedError),
    # transient faults
    "InternalError": _R(UnavailableError),
    "RequestTimeout": _R(UnavailableError),
    "OperationAborted": _R(UnavailableError),
    "IncompleteBody": _R(UnavailableError),
    "XAmzContentSHA256Mismatch": _R(ChecksumMismatchError, retryable=True),
    "BadDigest": _R(ChecksumMismatchError, retryable=True),
    # requests that can never succeed
    "InvalidArgument": _R(InvalidArgumentError),
    "InvalidRequest": _R(InvalidArgumentError),
    "InvalidRange": _R(InvalidArgumentError),
    "InvalidBucketName": _R(InvalidArgumentError),
    "KeyTooLongError": _R(InvalidArgumentError),
    "MetadataTooLarge": _R(InvalidArgumentError),
    "EntityTooSmall": _R(InvalidArgumentError),
    "EntityTooLarge": _R(InvalidArgumentError),
    "InvalidPart": _R(InvalidArgumentError),
    "InvalidPartOrder": _R(InvalidArgumentError),
    "InvalidDigest": _R(InvalidArgumentError),
    "MalformedXML": _R(InvalidArgumentError),
    "InvalidStorageClass": _R(InvalidArgumentError),
    "IllegalLocationConstraintException": _R(InvalidArgumentError),
    "AuthorizationQueryParametersError": _R(InvalidArgumentError),
    # not offered here
    "NotImplemented": _R(UnsupportedError),
    "MethodNotAllowed": _R(UnsupportedError),
    "XNotImplemented": _R(UnsupportedError),
    # ---- EC2 (and the SSM parameters that name public images)
    # missing things; a malformed id names no instance either, and moto answers NotFound for both
    "InvalidInstanceID.NotFound": _R(NotFoundError),
    "InvalidInstanceID.Malformed": _R(NotFoundError),
    "InvalidAMIID.NotFound": _R(NotFoundError),
    "InvalidKeyPair.NotFound": _R(NotFoundError),
    "InvalidSubnetID.NotFound": _R(NotFoundError),
    "InvalidGroup.NotFound": _R(NotFoundError),
    "InvalidSecurityGroupID.NotFound": _R(NotFoundError),
    "InvalidVpcID.NotFound": _R(NotFoundError),
    "InvalidSpotInstanceRequestID.NotFound": _R(NotFoundError),
    "ParameterNotFound": _R(NotFoundError),
    "InvalidKeyPair.Duplicate": _R(AlreadyExistsError),
    # specs that can never launch: AWS says InvalidParameterValue for an unknown instance type,
    # moto (with MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION) InvalidInstanceType.NotFound
    "InvalidInstanceType": _R(InvalidArgumentError),
    "InvalidInstanceType.NotFound": _R(InvalidArgumentError),
    "InvalidParameterValue": _R(InvalidArgumentError),
    "InvalidParameterCombination": _R(InvalidArgumentError),
    "InvalidParameter": _R(InvalidArgumentError),
    "MissingParameter": _R(InvalidArgumentError),
    "UnknownParameter": _R(InvalidArgumentError),
    "ValidationError": _R(InvalidArgumentError),
    "ValidationException": _R(InvalidArgumentError),
    "InvalidFilter": _R(InvalidArgumentError),
    "InvalidID": _R(InvalidArgumentError),
    "InvalidAMIID.Malformed": _R(InvalidArgumentError),
    "InvalidKeyPair.Format": _R(InvalidArgumentError),
    "InvalidTagKey.Malformed": _R(InvalidArgumentError),
    "TagLimitExceeded": _R(InvalidArgumentError),
    "InvalidBlockDeviceMapping": _R(InvalidArgumentError),
    "InvalidUserData.Malformed": _R(InvalidArgumentError),
    "IdempotentParameterMismatch": _R(InvalidArgumentError),
    "InvalidParameterType": _R(InvalidArgumentError),
    "InvalidKeyId": _R(InvalidArgumentError),
    # the instance (or image) is in the wrong state for the call
    "IncorrectInstanceState": _R(FailedPreconditionError),
    "IncorrectState": _R(FailedPreconditionError),
    "InvalidAMIID.Unavailable": _R(FailedPreconditionError),
    # termination protection, or a stop the instance's configuration forbids
    "OperationNotPermitted": _R(FailedPreconditionError),
    "DependencyViolation": _R(FailedPreconditionError),
    # no capacity now: another try later (or in another zone) may find some
    "InsufficientInstanceCapacity": _R(ResourceExhaustedError),
    "InsufficientCapacity": _R(ResourceExhaustedError),
    "InsufficientHostCapacity": _R(ResourceExhaustedError),
    "InsufficientReservedInstanceCapacity": _R(ResourceExhaustedError),
    "SpotMaxPriceTooLow": _R(ResourceExhaustedError),
    # quotas: the same call keeps failing until the quota is raised or instances are released
    "InstanceLimitExceeded": _R(ResourceExhaustedError, retryable=False),
    "VcpuLimitExceeded": _R(ResourceExhaustedError, retryable=False),
    "MaxSpotInstanceCountExceeded": _R(ResourceExhaustedError, retryable=False),
    "InsufficientFreeAddressesInSubnet": _R(ResourceExhaustedError, retryable=False),
    "ResourceLimitExceeded": _R(ResourceExhaustedError, retryable=False),
    # who you are, and what you may do
    "AuthFailure": _R(UnauthenticatedError),
    "InvalidClientTokenId": _R(UnauthenticatedError),
    "UnrecognizedClientException": _R(UnauthenticatedError),
    "UnauthorizedOperation": _R(PermissionDeniedError),
    "AccessDeniedException": _R(PermissionDeniedError),
    "OptInRequired": _R(PermissionDeniedError),
    "Blocked": _R(PermissionDeniedError),
    "PendingVerification": _R(PermissionDeniedError),
    # transient service faults (RequestLimitExceeded, EC2's throttle, is listed above)
    "Unavailable": _R(UnavailableError),
    "InternalFailure": _R(UnavailableError),
    "ServerInternal": _R(UnavailableError),
    # EC2 has no such thing for this instance or type (a one-time spot instance cannot stop)
    "Unsupported": _R(UnsupportedError),
    "UnsupportedOperation": _R(UnsupportedError),
}

#: HTTP statuses, for responses without a known code (HEAD has no body at all).
BY_STATUS: Mapping[int, _Rule] = {
    **{status: _R(error) for status, error in HTTP_STATUS_ERRORS.items()},
    503: _R(ResourceExhaustedError),  # S3's 503 is SlowDown: back off
}

#: botocore and urllib3 exceptions other than ClientError, most specific first.
BY_TYPE: tuple[tuple[type[BaseException], _Rule], ...] = (
    (boto_exc.NoCredentialsError, _R(UnauthenticatedError)),
    (boto_exc.PartialCredentialsError, _R(UnauthenticatedError)),
    (boto_exc.CredentialRetrievalError, _R(UnauthenticatedError)),
    (boto_exc.NoAuthTokenError, _R(UnauthenticatedError)),
    (boto_exc.TokenRetrievalError, _R(UnauthenticatedError)),
    (boto_exc.SSOError, _R(UnauthenticatedError)),
    (boto_exc.ProfileNotFound, _R(InvalidArgumentError)),
    (boto_exc.ConfigParseError, _R(InvalidArgumentError)),
    (boto_exc.NoRegionError, _R(InvalidArgumentError)),
    (boto_exc.InvalidRegionError, _R(InvalidArgumentError)),
    (boto_exc.ParamValidationError, _R(InvalidArgumentError)),
    (boto_exc.InvalidS3AddressingStyleError, _R(InvalidArgumentError)),
    (boto_exc.InvalidConfigError, _R(InvalidArgumentError)),
    (boto_exc.UnknownEndpointError, _R(InvalidArgumentError)),
    (boto_exc.FlexibleChecksumError, _R(ChecksumMismatchError, retryable=True)),
    (boto_exc.ConnectTimeoutError, _R(UnavailableError)),
    (boto_exc.ReadTimeoutError, _R(DeadlineExceededError)),
    # A certificate that does not verify will not verify on a retry either.
    (boto_exc.SSLError, _R(UnavailableError, retryable=False)),
    (boto_exc.EndpointConnectionError, _R(UnavailableError)),
    (boto_exc.ConnectionClosedError, _R(UnavailableError)),
    (boto_exc.ConnectionError, _R(UnavailableError)),
    (boto_exc.HTTPClientError, _R(UnavailableError)),
    (boto_exc.IncompleteReadError, _R(UnavailableError)),
    (boto_exc.ResponseStreamingError, _R(UnavailableError)),
    (urllib3_exc.ReadTimeoutError, _R(DeadlineExceededError)),
    (urllib3_exc.ProtocolError, _R(UnavailableError)),
    (urllib3_exc.HTTPError, _R(UnavailableError)),
    (ConnectionError, _R(UnavailableError)),
    (TimeoutError, _R(DeadlineExceededError)),
    (boto_exc.BotoCoreError, _R(InternalError)),
)

_SCRUB = (
    # user:password@ in an endpoint URL
    (re.compile(r"(?<=//)[^/@\s]+@"), "***@"),
    # presign and auth parameters, in queries or headers
    (
        re.compile(
            r"(?i)(X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|"
            r"Credential|aws_secret_access_key|aws_session_token)=[^&\s,]+"
        ),
        r"\1=***",
    ),
    # access key ids (long-term and temporary)
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"), "***"),
)


def _scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a ``ClientError`` (``"NoSuchKey"``, or ``"404"`` for HEAD)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a ``ClientError``, if it has one."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _headers(response: Mapping[str, Any]) -> Mapping[str, str]:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers if isinstance(headers, Mapping) else {}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if raw is None:
        return None
    raw = str(raw).strip()
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


def make_client_error(code: str, message: str, operation: str) -> Exception:
    """Build a ``ClientError`` for a failure reported inside a 200 answer (DeleteObjects)."""
    error: Exception = boto_exc.ClientError(
        {"Error": {"Code": code, "Message": message}}, operation
    )
    return error


def _map_client_error(exc: Any, service: str) -> PortaCloudError:
    response: Mapping[str, Any] = exc.response
    code = error_code(exc)
    status = http_status(exc)
    rule = BY_CODE.get(code or "")
    if rule is None and status is not None:
        rule = BY_STATUS.get(status)
        if rule is None and status >= 500:
            rule = _R(UnavailableError)
    error = response.get("Error", {})
    server_message = str(error.get("Message") or "").strip()
    operation = getattr(exc, "operation_name", None) or "request"
    label = code if code and code != str(status) else "HTTP error"
    message = f"{label}"
    if status is not None:
        message += f" (HTTP {status})"
    message += f" from {service} {operation}"
    if server_message:
        message += f": {server_message}"
    bucket = error.get("BucketName")
    if bucket and code == "NoSuchBucket":
        message += f" (bucket {bucket!r})"
    message = _scrub(message)
    if rule is None:
        return UnknownError(message)
    return rule.error(
        message,
        retryable=rule.retryable,
        retry_after=_retry_after(_headers(response)),
    )


def map_s3_error(exc: BaseException) -> PortaCloudError | None:
    """Translate a botocore, urllib3 or socket failure into a portacloud error.

    Args:
        exc: What boto3 (or the body stream under it) raised.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        this provider's to interpret.
    """
    return _map(exc, "S3")


def map_ec2_error(exc: BaseException) -> PortaCloudError | None:
    """Translate what an EC2 (or SSM) call raised into a portacloud error.

    The same table as :func:`map_s3_error`; only the service named in messages differs.

    Args:
        exc: What boto3 raised.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        this provider's to interpret.
    """
    return _map(exc, "EC2")


def _map(exc: BaseException, service: str) -> PortaCloudError | None:
    if isinstance(exc, PortaCloudError):
        return exc
    if isinstance(exc, boto_exc.ClientError):
        return _map_client_error(exc, service)
    for native, rule in BY_TYPE:
        if isinstance(exc, native):
            # botocore's messages name endpoints and credential sources, never secret
            # values; the scrub is a second line of defence for endpoint user-info.
            detail = _scrub(str(exc)) or type(exc).__name__
            return rule.error(f"{type(exc).__name__}: {detail}", retryable=rule.retryable)
    return None

"""The one table that turns AWS (S3, EC2, SSM) and botocore failures into portacloud errors.

Lookup order for a ``ClientError``: the service's error code (``NoSuchKey``, ``SlowDown``,
``InvalidInstanceID.NotFound``...), then the HTTP status (HEAD responses have no body, so their
code is just ``"404"``), then the status class (5xx). botocore's own exceptions (connection
failures, timeouts, missing credentials) are matched by type, nearest base first. Messages are
rebuilt from the code and the server's message and scrubbed by
:func:`portacloud.providerkit.scrub`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from urllib3 import exceptions as urllib3_exc

from portacloud import errors as portable
from portacloud.providerkit import ErrorRule, ErrorTable, call_mapped, retry_after, status_rules
from portacloud_aws.boto import error_code, http_status

__all__ = [
    "TABLE",
    "error_code",
    "http_status",
    "make_client_error",
    "map_ec2_error",
    "map_s3_error",
    "open_or_map",
]

_T = TypeVar("_T")

# botocore ships no type information: its exceptions are Any at this boundary.
boto_exc: Any = importlib.import_module("botocore.exceptions")


def _by_code(*groups: tuple[ErrorRule, str]) -> Mapping[str, ErrorRule]:
    """One row per whitespace-separated code of each group."""
    rows: dict[str, ErrorRule] = {}
    for rule, codes in groups:
        rows.update(dict.fromkeys(codes.split(), rule))
    return MappingProxyType(rows)


_R = ErrorRule

#: S3 codes (AWS, plus the spellings S3-compatible servers use), then EC2's and SSM's.
BY_CODE = _by_code(
    # A malformed instance id names no instance either; moto answers NotFound for both.
    (
        _R(portable.NotFoundError),
        """NoSuchKey NoSuchBucket NoSuchUpload NoSuchVersion NotFound ParameterNotFound
        InvalidInstanceID.NotFound InvalidInstanceID.Malformed InvalidAMIID.NotFound
        InvalidKeyPair.NotFound InvalidSubnetID.NotFound InvalidGroup.NotFound
        InvalidSecurityGroupID.NotFound InvalidVpcID.NotFound
        InvalidSpotInstanceRequestID.NotFound""",
    ),
    # Termination protection and stops the instance's configuration forbids included.
    (
        _R(portable.FailedPreconditionError),
        """PreconditionFailed InvalidObjectState BucketNotEmpty IncorrectInstanceState
        IncorrectState InvalidAMIID.Unavailable OperationNotPermitted DependencyViolation""",
    ),
    # AWS: "a concurrent operation occurred during the upload ... you should retry": the retry
    # settles it (success, or 412 if the other writer won).
    (_R(portable.FailedPreconditionError, retryable=True), "ConditionalRequestConflict"),
    (
        _R(portable.AlreadyExistsError),
        "BucketAlreadyExists BucketAlreadyOwnedByYou InvalidKeyPair.Duplicate",
    ),
    (
        _R(portable.UnauthenticatedError),
        """InvalidAccessKeyId SignatureDoesNotMatch ExpiredToken InvalidToken
        TokenRefreshRequired MissingSecurityHeader AuthorizationHeaderMalformed
        RequestTimeTooSkewed AnonymousAccessDenied AuthFailure InvalidClientTokenId
        UnrecognizedClientException""",
    ),
    (
        _R(portable.PermissionDeniedError),
        """AccessDenied AllAccessDisabled AccountProblem InvalidPayer UnauthorizedOperation
        AccessDeniedException OptInRequired Blocked PendingVerification""",
    ),
    # Throttles, and no capacity now: another try later (or in another zone) may find some.
    (
        _R(portable.ResourceExhaustedError),
        """SlowDown Throttling ThrottlingException ThrottledException RequestThrottled
        RequestLimitExceeded TooManyRequests TooManyRequestsException BandwidthLimitExceeded
        ServiceUnavailable InsufficientInstanceCapacity InsufficientCapacity
        InsufficientHostCapacity InsufficientReservedInstanceCapacity SpotMaxPriceTooLow""",
    ),
    # Quotas: the same call keeps failing until the quota is raised or instances are released.
    (
        _R(portable.ResourceExhaustedError, retryable=False),
        """InstanceLimitExceeded VcpuLimitExceeded MaxSpotInstanceCountExceeded
        InsufficientFreeAddressesInSubnet ResourceLimitExceeded""",
    ),
    (
        _R(portable.UnavailableError),
        """InternalError RequestTimeout OperationAborted IncompleteBody Unavailable
        InternalFailure ServerInternal""",
    ),
    (_R(portable.ChecksumMismatchError, retryable=True), "XAmzContentSHA256Mismatch BadDigest"),
    # Requests that can never succeed. An unknown instance type is InvalidParameterValue on
    # AWS, InvalidInstanceType.NotFound on moto (MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION).
    (
        _R(portable.InvalidArgumentError),
        """InvalidArgument InvalidRequest InvalidRange InvalidBucketName KeyTooLongError
        MetadataTooLarge EntityTooSmall EntityTooLarge InvalidPart InvalidPartOrder
        InvalidDigest MalformedXML InvalidStorageClass IllegalLocationConstraintException
        AuthorizationQueryParametersError InvalidInstanceType InvalidInstanceType.NotFound
        InvalidParameterValue InvalidParameterCombination InvalidParameter MissingParameter
        UnknownParameter ValidationError ValidationException InvalidFilter InvalidID
        InvalidAMIID.Malformed InvalidKeyPair.Format InvalidTagKey.Malformed TagLimitExceeded
        InvalidBlockDeviceMapping InvalidUserData.Malformed IdempotentParameterMismatch
        InvalidParameterType InvalidKeyId""",
    ),
    # Not offered here; EC2 cannot stop a one-time spot instance (UnsupportedOperation).
    (
        _R(portable.UnsupportedError),
        "NotImplemented MethodNotAllowed XNotImplemented Unsupported UnsupportedOperation",
    ),
)

#: botocore and urllib3 exceptions other than ClientError; a subclass takes its nearest base's.
BY_TYPE: tuple[tuple[type[BaseException], ErrorRule], ...] = (
    *((cls, _R(portable.UnauthenticatedError)) for cls in (
        boto_exc.NoCredentialsError, boto_exc.PartialCredentialsError,
        boto_exc.CredentialRetrievalError, boto_exc.NoAuthTokenError,
        boto_exc.TokenRetrievalError, boto_exc.SSOError,
    )),
    *((cls, _R(portable.InvalidArgumentError)) for cls in (
        boto_exc.ProfileNotFound, boto_exc.ConfigParseError, boto_exc.NoRegionError,
        boto_exc.InvalidRegionError, boto_exc.ParamValidationError,
        boto_exc.InvalidS3AddressingStyleError, boto_exc.InvalidConfigError,
        boto_exc.UnknownEndpointError,
    )),
    (boto_exc.FlexibleChecksumError, _R(portable.ChecksumMismatchError, retryable=True)),
    # A certificate that does not verify will not verify on a retry either.
    (boto_exc.SSLError, _R(portable.UnavailableError, retryable=False)),
    *((cls, _R(portable.DeadlineExceededError)) for cls in (
        boto_exc.ReadTimeoutError, urllib3_exc.ReadTimeoutError, TimeoutError,
    )),
    *((cls, _R(portable.UnavailableError)) for cls in (
        boto_exc.ConnectTimeoutError, boto_exc.EndpointConnectionError,
        boto_exc.ConnectionClosedError, boto_exc.ConnectionError, boto_exc.HTTPClientError,
        boto_exc.IncompleteReadError, boto_exc.ResponseStreamingError,
        urllib3_exc.ProtocolError, urllib3_exc.HTTPError, ConnectionError,
    )),
    (boto_exc.BotoCoreError, _R(portable.InternalError)),
)  # fmt: skip

#: The whole table. S3's 503 is SlowDown: back off. A 4xx without a known code or status is
#: UNKNOWN (see :func:`_rule`), not the kit's INVALID_ARGUMENT.
TABLE = ErrorTable(
    by_code=BY_CODE,
    by_type=BY_TYPE,
    by_status=status_rules({503: _R(portable.ResourceExhaustedError)}),
)


def make_client_error(code: str, message: str, operation: str) -> Exception:
    """Build a ``ClientError`` for a failure reported inside a 200 answer (DeleteObjects)."""
    error: Exception = boto_exc.ClientError(
        {"Error": {"Code": code, "Message": message}}, operation
    )
    return error


def _rule(code: str | None, status: int | None) -> ErrorRule | None:
    rule = TABLE.rule(code=code)
    if rule is None and status is not None and (status in TABLE.by_status or status >= 500):
        rule = TABLE.rule_for_status(status)
    return rule


def _client_message(exc: Any, service: str, code: str | None, status: int | None) -> str:
    error = exc.response.get("Error", {})
    server_message = str(error.get("Message") or "").strip()
    operation = getattr(exc, "operation_name", None) or "request"
    message = code if code and code != str(status) else "HTTP error"
    if status is not None:
        message += f" (HTTP {status})"
    message += f" from {service} {operation}"
    if server_message:
        message += f": {server_message}"
    bucket = error.get("BucketName")
    if bucket and code == "NoSuchBucket":
        message += f" (bucket {bucket!r})"
    return message


def _map_client_error(exc: Any, service: str) -> portable.PortaCloudError:
    code = error_code(exc)
    status = http_status(exc)
    message = _client_message(exc, service, code, status)
    rule = _rule(code, status) or _R(portable.UnknownError)
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders")
    return rule.build(
        message, retry_after=retry_after(headers if isinstance(headers, Mapping) else None)
    )


def map_s3_error(exc: BaseException) -> portable.PortaCloudError | None:
    """Translate a botocore, urllib3 or socket failure into a portacloud error.

    Args:
        exc: What boto3 (or the body stream under it) raised.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        this provider's to interpret.
    """
    return _map(exc, "S3")


def map_ec2_error(exc: BaseException) -> portable.PortaCloudError | None:
    """Translate what an EC2 (or SSM) call raised into a portacloud error.

    The same table as :func:`map_s3_error`; only the service named in messages differs.

    Args:
        exc: What boto3 raised.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        this provider's to interpret.
    """
    return _map(exc, "EC2")


def _map(exc: BaseException, service: str) -> portable.PortaCloudError | None:
    if isinstance(exc, portable.PortaCloudError):
        return exc
    if isinstance(exc, boto_exc.ClientError):
        return _map_client_error(exc, service)
    rule = TABLE.rule_for_type(type(exc))
    if rule is None:
        return None
    # botocore's messages name endpoints and credential sources, never secret values; the
    # scrub is a second line of defence for endpoint user-info.
    name = type(exc).__name__
    return rule.build(f"{name}: {str(exc) or name}")


def open_or_map(
    open_: Callable[[], _T],
    map_error: Callable[[BaseException], portable.PortaCloudError | None],
    what: str,
) -> _T:
    """Run an opener so that only portacloud errors leave it.

    Args:
        open_: Builds the clients and the driver.
        map_error: :func:`map_s3_error` or :func:`map_ec2_error`.
        what: Names the client in the INVALID_ARGUMENT raised for an unmapped failure.
    """

    def unmapped(exc: Exception) -> portable.PortaCloudError:
        return portable.InvalidArgumentError(
            f"could not configure the {what} client: {type(exc).__name__}"
        )

    return call_mapped(open_, map_error, unmapped)

"""The one error taxonomy every portacloud call raises.

Each failure a backend reports becomes a :class:`PortaCloudError` whose subclass names a stable
code. The native exception stays reachable as ``__cause__`` and through :meth:`as_native`, so no
vendor exception type ever has to be caught by user code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

__all__ = [
    "HTTP_STATUS_ERRORS",
    "AlreadyExistsError",
    "CancelledError",
    "ChecksumMismatchError",
    "DeadlineExceededError",
    "ErrorCode",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "PortaCloudError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownError",
    "UnsupportedError",
    "error_for_code",
    "guarded_call",
    "guarded_coroutine",
]

_E = TypeVar("_E", bound=BaseException)
_T = TypeVar("_T")


class ErrorCode(StrEnum):
    """Stable error codes, shaped after gRPC's; their names never change."""

    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNSUPPORTED = "UNSUPPORTED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    CANCELLED = "CANCELLED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"
    UNKNOWN = "UNKNOWN"


class PortaCloudError(Exception):
    """Base of every error a portacloud call raises for a backend or input failure.

    Attributes:
        code: The stable :class:`ErrorCode`.
        provider: The backend that failed (``"s3"``, ``"file"``...), or ``None`` if unknown.
        operation: The portable operation (``"put"``, ``"list"``...), or ``None``.
        resource: The key, bucket or id the operation was about, or ``None``.
        retryable: Whether repeating the same call may succeed.
        retry_after: Seconds the service asked the caller to wait, when it said so.
    """

    code: ClassVar[ErrorCode] = ErrorCode.UNKNOWN
    default_retryable: ClassVar[bool] = False

    def __init_subclass__(
        cls, *, code: ErrorCode | None = None, retryable: bool | None = None, **kwargs: Any
    ) -> None:
        """Give a subclass its code and default retryability in its class statement:
        ``class NotFoundError(PortaCloudError, code=ErrorCode.NOT_FOUND)``."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if retryable is not None:
            cls.default_retryable = retryable

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        operation: str | None = None,
        resource: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.operation = operation
        self.resource = resource
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = ".".join(part for part in (self.provider, self.operation) if part)
        about = f" {self.resource!r}" if self.resource is not None else ""
        prefix = f"{where}{about}: " if where or about else ""
        return f"[{self.code.value}] {prefix}{self.message}"

    def with_context(
        self, *, provider: str | None, operation: str | None, resource: str | None
    ) -> PortaCloudError:
        """Fill in whatever context the raiser did not know; never overwrite what it set."""
        self.provider = self.provider or provider
        self.operation = self.operation or operation
        if self.resource is None:
            self.resource = resource
        return self

    def as_native(self, native_type: type[_E]) -> _E | None:
        """Return the vendor exception behind this error if it is of ``native_type``."""
        cause = self.__cause__
        while cause is not None:
            if isinstance(cause, native_type):
                return cause
            cause = cause.__cause__
        return None


class NotFoundError(PortaCloudError, code=ErrorCode.NOT_FOUND):
    """The object, bucket, instance or job does not exist."""


class AlreadyExistsError(PortaCloudError, code=ErrorCode.ALREADY_EXISTS):
    """The resource to create exists already."""


class FailedPreconditionError(PortaCloudError, code=ErrorCode.FAILED_PRECONDITION):
    """A condition of the call (``if_match``, ``if_none_match``, state) did not hold."""


class InvalidArgumentError(PortaCloudError, code=ErrorCode.INVALID_ARGUMENT):
    """The caller passed a value that can never succeed (bad key, range, URL, spec)."""


class PermissionDeniedError(PortaCloudError, code=ErrorCode.PERMISSION_DENIED):
    """The credentials are valid but not allowed to do this."""


class UnauthenticatedError(PortaCloudError, code=ErrorCode.UNAUTHENTICATED):
    """The credentials are missing, wrong or expired."""


class ResourceExhaustedError(PortaCloudError, code=ErrorCode.RESOURCE_EXHAUSTED, retryable=True):
    """Throttling or a quota: slow down and try again. Also a profile's budget that a run
    would exceed (docs/costs.md), raised with ``retryable=False``: waiting does not help."""


class UnsupportedError(PortaCloudError, code=ErrorCode.UNSUPPORTED):
    """The backend cannot do this operation or option at all."""


class DeadlineExceededError(PortaCloudError, code=ErrorCode.DEADLINE_EXCEEDED, retryable=True):
    """The call or the job ran out of time."""


class CancelledError(PortaCloudError, code=ErrorCode.CANCELLED):
    """The operation was cancelled."""


class UnavailableError(PortaCloudError, code=ErrorCode.UNAVAILABLE, retryable=True):
    """The service could not be reached or answered with a transient failure."""


class InternalError(PortaCloudError, code=ErrorCode.INTERNAL):
    """The service or portacloud broke an invariant."""


class ChecksumMismatchError(InternalError):
    """The bytes read do not match the CRC32C recorded when they were written."""


class UnknownError(PortaCloudError, code=ErrorCode.UNKNOWN):
    """A backend failure that no mapping table knows."""


_BY_CODE: dict[ErrorCode, type[PortaCloudError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        AlreadyExistsError,
        FailedPreconditionError,
        InvalidArgumentError,
        PermissionDeniedError,
        UnauthenticatedError,
        ResourceExhaustedError,
        UnsupportedError,
        DeadlineExceededError,
        CancelledError,
        UnavailableError,
        InternalError,
        UnknownError,
    )
}


#: What HTTP statuses usually mean. Each provider's table starts from this one and overrides
#: only what its service means differently (S3's 503 is SlowDown: RESOURCE_EXHAUSTED).
HTTP_STATUS_ERRORS: Mapping[int, type[PortaCloudError]] = MappingProxyType(
    {
        400: InvalidArgumentError,
        401: UnauthenticatedError,
        403: PermissionDeniedError,
        404: NotFoundError,
        405: UnsupportedError,
        408: UnavailableError,
        409: FailedPreconditionError,
        411: InvalidArgumentError,
        412: FailedPreconditionError,
        413: InvalidArgumentError,
        414: InvalidArgumentError,
        416: InvalidArgumentError,
        429: ResourceExhaustedError,
        500: UnavailableError,
        501: UnsupportedError,
        502: UnavailableError,
        503: UnavailableError,
        504: UnavailableError,
    }
)


def error_for_code(code: ErrorCode) -> type[PortaCloudError]:
    """Return the subclass that carries ``code``; providers' mapping tables are built on it."""
    return _BY_CODE[code]


def guarded_call(
    fn: Callable[[], _T],
    *,
    map_error: Callable[[Exception], PortaCloudError | None],
    provider: str,
    operation: str,
    resource: str | None,
) -> _T:
    """Run a driver call so that only portacloud errors, with full context, leave it.

    Native exceptions go through the provider's ``map_error`` table; what it does not know
    becomes UNKNOWN. The native exception is kept as ``__cause__``. ``resource`` (the caller's
    own name for the thing) replaces whatever the driver put there.
    """
    try:
        return fn()
    except PortaCloudError as exc:
        raise _in_context(exc, provider, operation, resource) from exc.__cause__
    except Exception as exc:
        raise _mapped(exc, map_error, provider, operation, resource) from exc


async def guarded_coroutine(
    fn: Callable[[], Awaitable[_T]],
    *,
    map_error: Callable[[Exception], PortaCloudError | None],
    provider: str,
    operation: str,
    resource: str | None,
) -> _T:
    """:func:`guarded_call` for a coroutine function (a native async driver call)."""
    try:
        return await fn()
    except PortaCloudError as exc:
        raise _in_context(exc, provider, operation, resource) from exc.__cause__
    except Exception as exc:
        raise _mapped(exc, map_error, provider, operation, resource) from exc


def _mapped(
    exc: Exception,
    map_error: Callable[[Exception], PortaCloudError | None],
    provider: str,
    operation: str,
    resource: str | None,
) -> PortaCloudError:
    mapped = map_error(exc) or UnknownError(f"unexpected {type(exc).__name__} from the backend")
    return _in_context(mapped, provider, operation, resource)


def _in_context(
    exc: PortaCloudError, provider: str, operation: str, resource: str | None
) -> PortaCloudError:
    exc.with_context(provider=provider, operation=operation, resource=resource)
    if resource is not None:
        exc.resource = resource
    return exc

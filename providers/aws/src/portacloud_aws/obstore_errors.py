"""How obstore's failures become portacloud errors, for ``s3://...?engine=obstore``.

obstore raises its own exception types (``AlreadyExistsError``, ``PreconditionError``...), the
builtin ``FileNotFoundError`` for a missing object, and ``GenericError`` for everything else,
with the HTTP status and the server's XML error body in the message. The lookup is the S3
table's (:data:`portacloud_aws.errors.TABLE`): the S3 error code found in the body first, then
obstore's exception type, then the status. A failure with neither a status nor a code never
reached a server's answer (refused connection, reset, body cut short): UNAVAILABLE, retryable.

Importing this module imports obstore; the driver imports it only when the engine is used.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from portacloud import errors as portable
from portacloud.providerkit import ErrorRule, ErrorTable
from portacloud_aws.errors import TABLE, map_s3_error

__all__ = ["OBSTORE_TABLE", "http_status", "is_obstore_error", "map_obstore_error"]

# obstore ships stubs only for its public modules; its exceptions are Any at this boundary.
_exc: Any = importlib.import_module("obstore.exceptions")

_R = ErrorRule
_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([A-Za-z0-9.]+)</Code>")

#: The S3 table, with obstore's exception types in place of botocore's.
OBSTORE_TABLE = ErrorTable(
    by_code=TABLE.by_code,
    by_type=(
        (FileNotFoundError, _R(portable.NotFoundError)),
        (_exc.AlreadyExistsError, _R(portable.FailedPreconditionError)),
        (_exc.PreconditionError, _R(portable.FailedPreconditionError)),
        (_exc.NotModifiedError, _R(portable.FailedPreconditionError)),
        (_exc.PermissionDeniedError, _R(portable.PermissionDeniedError)),
        (_exc.UnauthenticatedError, _R(portable.UnauthenticatedError)),
        (_exc.NotSupportedError, _R(portable.UnsupportedError)),
        (_exc.InvalidPathError, _R(portable.InvalidArgumentError)),
        (_exc.UnknownConfigurationKeyError, _R(portable.InvalidArgumentError)),
        (_exc.JoinError, _R(portable.InternalError)),
        (TimeoutError, _R(portable.DeadlineExceededError)),
    ),
    by_status=TABLE.by_status,
)


def is_obstore_error(exc: BaseException) -> bool:
    """Whether obstore raised ``exc`` (its own types, or the builtins it uses)."""
    return isinstance(exc, _exc.BaseError | FileNotFoundError)


def _summary(exc: BaseException) -> str:
    # obstore appends a multi-line "Debug source:" dump of its Rust error: keep the first part.
    return str(exc).split("\n\nDebug source:", 1)[0].strip()


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an obstore failure names in its message, if any."""
    found = _STATUS.search(_summary(exc)) if is_obstore_error(exc) else None
    return int(found.group(1)) if found else None


def _obstore_rule(exc: BaseException, text: str) -> ErrorRule:
    found = _CODE.search(text)
    status = http_status(exc)
    rule = OBSTORE_TABLE.rule(code=found.group(1) if found else None, exc=exc, status=status)
    if rule is not None:
        return rule
    if "timed out" in text.lower() or "timeout" in text.lower():
        return _R(portable.DeadlineExceededError)
    # No answer from a server: refused, reset, or a body that ended early.
    return _R(portable.UnavailableError, True)


def map_obstore_error(exc: BaseException) -> portable.PortaCloudError | None:
    """Translate what an obstore call (or a boto3 call of the same driver) raised.

    Args:
        exc: The native exception.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        this provider's to interpret.
    """
    if isinstance(exc, portable.PortaCloudError):
        return exc
    if not is_obstore_error(exc):
        return map_s3_error(exc)
    text = _summary(exc)
    return _obstore_rule(exc, text).build(f"S3 (obstore): {text}")

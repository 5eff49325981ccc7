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

from portacloud import errors as portable
from portacloud.providerkit import ErrorTable
from portacloud.providerkit.obstore import (
    is_obstore_error,
    obstore_error,
    obstore_status,
    obstore_type_rules,
)
from portacloud_aws.errors import TABLE, map_s3_error

__all__ = ["OBSTORE_TABLE", "http_status", "is_obstore_error", "map_obstore_error"]

#: The S3 table, with obstore's exception types in place of botocore's.
OBSTORE_TABLE = ErrorTable(
    by_code=TABLE.by_code, by_type=obstore_type_rules(), by_status=TABLE.by_status
)
#: The HTTP status an obstore failure names in its message, if any.
http_status = obstore_status


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
    return obstore_error(exc, OBSTORE_TABLE, "S3")

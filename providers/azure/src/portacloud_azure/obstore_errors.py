"""How obstore's failures become portacloud errors, for ``az://...?engine=obstore``.

obstore raises its own exception types (``AlreadyExistsError``, ``PreconditionError``...), the
builtin ``FileNotFoundError`` for a missing blob, and ``GenericError`` for everything else, with
the HTTP status and the service's XML error body in the message. The lookup is Azure's table
(:data:`portacloud_azure.errors.ERRORS`): the error code found in the body first (a HEAD has no
body), then obstore's exception type, then the status. A failure with neither a status nor a
code never reached an answer (refused connection, reset, body cut short): UNAVAILABLE,
retryable. Messages are scrubbed (:meth:`ErrorRule.build`): with a SAS credential the request
URL obstore quotes carries the signature.

Importing this module imports obstore; the driver imports it only when the engine is used.
"""

from __future__ import annotations

import dataclasses

from portacloud import errors as pe
from portacloud.providerkit import TRANSIENT_STATUSES
from portacloud.providerkit.obstore import (
    is_obstore_error,
    obstore_error,
    obstore_status,
    obstore_type_rules,
)
from portacloud_azure.errors import ERRORS, map_azure_error

__all__ = ["OBSTORE_ERRORS", "map_obstore_error"]

#: Azure's table, with obstore's exception types in place of azure-core's.
OBSTORE_ERRORS = dataclasses.replace(ERRORS, by_type=obstore_type_rules())


def map_obstore_error(exc: BaseException) -> pe.PortaCloudError | None:
    """Translate what an obstore call (or an SDK call of the same driver) raised.

    Args:
        exc: The native exception.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` for exceptions that are not
        this provider's to interpret.
    """
    if isinstance(exc, pe.PortaCloudError):
        return exc
    if not is_obstore_error(exc):
        return map_azure_error(exc)
    error = obstore_error(exc, OBSTORE_ERRORS, "Azure")
    # A transient status is worth another try whatever the code says (as on the SDK engine).
    error.retryable = error.retryable or obstore_status(exc) in TRANSIENT_STATUSES
    return error

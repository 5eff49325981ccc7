"""What drivers on obstore (Rust ``object_store``) share, whatever the cloud.

obstore is imported by :func:`obstore_type_rules` only, on first use: a provider imports this
module freely and obstore only when a URL asks for its engine. Nothing here is re-exported from
:mod:`portacloud.providerkit`, so importing the kit never imports it either.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from portacloud import errors as pe
from portacloud.providerkit.errors import ErrorRule

__all__ = [
    "CLIENT_OPTIONS",
    "is_obstore_error",
    "obstore_status",
    "obstore_summary",
    "obstore_type_rules",
    "representable",
]

_STATUS = re.compile(r"status code: (\d{3})")

#: obstore ``client_options`` for long transfers: obstore's default overall timeout (30 s) would
#: cut them short; a stalled connection is caught by the read timeout instead, as the SDKs' is.
CLIENT_OPTIONS: dict[str, Any] = {
    "timeout": timedelta(hours=24),
    "read_timeout": timedelta(seconds=60),
    "connect_timeout": timedelta(seconds=60),
    "user_agent": "portacloud",
}


def representable(key: str) -> bool:
    """Whether ``object_store`` keeps ``key`` exactly as given (its ``Path::parse`` rules)."""
    if not key or key.startswith("/") or key.endswith("/"):
        return False
    if any(ch < " " or ch == "\x7f" for ch in key):
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


@functools.cache
def obstore_type_rules() -> Sequence[tuple[type[BaseException], ErrorRule]]:
    """``ErrorTable.by_type`` rows for obstore's exception types (imports obstore)."""
    # obstore ships stubs only for its public modules; its exceptions are Any at this boundary.
    exc: Any = importlib.import_module("obstore.exceptions")
    return (
        (FileNotFoundError, ErrorRule(pe.NotFoundError)),
        (exc.AlreadyExistsError, ErrorRule(pe.FailedPreconditionError)),
        (exc.PreconditionError, ErrorRule(pe.FailedPreconditionError)),
        (exc.NotModifiedError, ErrorRule(pe.FailedPreconditionError)),
        (exc.PermissionDeniedError, ErrorRule(pe.PermissionDeniedError)),
        (exc.UnauthenticatedError, ErrorRule(pe.UnauthenticatedError)),
        (exc.NotSupportedError, ErrorRule(pe.UnsupportedError)),
        (exc.InvalidPathError, ErrorRule(pe.InvalidArgumentError)),
        (exc.UnknownConfigurationKeyError, ErrorRule(pe.InvalidArgumentError)),
        (exc.JoinError, ErrorRule(pe.InternalError)),
        (TimeoutError, ErrorRule(pe.DeadlineExceededError)),
    )


def is_obstore_error(exc: BaseException) -> bool:
    """Whether obstore raised ``exc`` (its own types, or the builtins it uses)."""
    base: Any = importlib.import_module("obstore.exceptions").BaseError
    return isinstance(exc, base | FileNotFoundError)


def obstore_summary(exc: BaseException) -> str:
    """``exc``'s message without the multi-line ``Debug source:`` dump obstore appends."""
    return str(exc).split("\n\nDebug source:", 1)[0].strip()


def obstore_status(exc: BaseException) -> int | None:
    """The HTTP status an obstore failure names in its message, if any."""
    found = _STATUS.search(obstore_summary(exc)) if is_obstore_error(exc) else None
    return int(found.group(1)) if found else None

"""portacloud errors as the exceptions fsspec users catch: one table, the cause kept."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from portacloud.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    UnauthenticatedError,
    UnsupportedError,
)

__all__ = ["ERROR_TABLE", "as_os_error", "directory_error", "translated"]

#: portacloud error -> (builtin exception, errno). First match wins, so subclasses go first.
#: FAILED_PRECONDITION reads as "exists" because the filesystem's only conditional writes
#: are create-only (``mode="create"``, ``"xb"``); compare-and-swap is not part of fsspec.
ERROR_TABLE: tuple[tuple[type[PortaCloudError], type[OSError] | type[Exception], int], ...] = (
    (NotFoundError, FileNotFoundError, errno.ENOENT),
    (AlreadyExistsError, FileExistsError, errno.EEXIST),
    (FailedPreconditionError, FileExistsError, errno.EEXIST),
    (PermissionDeniedError, PermissionError, errno.EACCES),
    (UnauthenticatedError, PermissionError, errno.EACCES),
    (UnsupportedError, NotImplementedError, 0),
)


def as_os_error(exc: PortaCloudError, path: str) -> Exception | None:
    """The builtin exception ``exc`` becomes for ``path``, with ``exc`` as its cause.

    Returns ``None`` for errors that have no builtin meaning (UNAVAILABLE, INTERNAL...): those
    are raised as they are, since they already say more than a bare ``OSError`` would.
    """
    for source, target, code in ERROR_TABLE:
        if isinstance(exc, source):
            mapped: Exception
            if issubclass(target, OSError):
                mapped = target(code, str(exc), path)
            else:
                mapped = target(str(exc))
            mapped.__cause__ = exc
            return mapped
    return None


def directory_error(kind: type[OSError], path: str, cause: BaseException | None) -> OSError:
    """An ``IsADirectoryError``/``NotADirectoryError`` for ``path``, keeping ``cause``."""
    code = errno.EISDIR if kind is IsADirectoryError else errno.ENOTDIR
    what = "is a directory" if kind is IsADirectoryError else "a parent is a file, not a directory"
    err = kind(code, f"{path!r} {what}", path)
    err.__cause__ = cause
    return err


@contextmanager
def translated(path: str) -> Iterator[None]:
    """Raise the builtin exception of :data:`ERROR_TABLE` for any portacloud error inside."""
    try:
        yield
    except PortaCloudError as exc:
        mapped = as_os_error(exc, path)
        if mapped is None:
            raise
        raise mapped from exc

"""Where the CLI writes downloads on this machine, without damaging what is already there.

A download into a regular file (new or existing) goes to a hidden temp file beside it and is
renamed into place when complete, so a failure or a kill leaves the old file or nothing. What
is not a regular file is never replaced: a device or a FIFO is written through, as ``cp`` does;
a symlink is followed to the file it names and stays a link. New files get the user's umask
(``0666 & ~umask``); a replaced file keeps its mode.
"""

from __future__ import annotations

import os
import stat
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from portacloud.errors import (
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnknownError,
)
from portacloud.os_errors import ERRNO_TABLE

__all__ = ["local_error", "open_download", "open_upload_source"]


def local_error(
    exc: OSError, path: os.PathLike[str] | str, *, doing: str | None = None
) -> PortaCloudError:
    """One portacloud error for an OSError on a local path, naming the path."""
    kind = ERRNO_TABLE.get(exc.errno or 0, UnknownError)
    what = f"{doing}: " if doing else ""
    error = kind(f"{what}{exc.strerror or exc}", provider="local", resource=str(path))
    error.__cause__ = exc
    return error


@contextmanager
def _local(path: os.PathLike[str] | str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise local_error(exc, path) from exc


def _resolve_link(path: Path) -> Path:
    """The file a symlink names (through chains), refusing a dangling link as ``cp`` does."""
    if not path.is_symlink():
        return path
    real = Path(os.path.realpath(path))
    if not real.exists():
        raise InvalidArgumentError(
            f"{path} is a symlink to {real}, which does not exist; not writing through a "
            "dangling link",
            provider="local",
            resource=str(path),
        )
    return real


def _check_parent(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise NotFoundError(f"no such directory: {parent}", provider="local", resource=str(path))
    if not parent.is_dir():
        raise InvalidArgumentError(
            f"not a directory: {parent}", provider="local", resource=str(path)
        )


@contextmanager
def open_download(path: Path) -> Iterator[BinaryIO]:
    """Open where a download to ``path`` goes; it lands only if the block ends normally.

    Raises:
        NotFoundError: The parent directory does not exist.
        InvalidArgumentError: A parent is not a directory, ``path`` is a socket or a
            dangling symlink.
        PermissionDeniedError, ResourceExhaustedError: From the file system, naming the path.
    """
    target = _resolve_link(path)
    with _local(target):
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISSOCK(st.st_mode):
            raise InvalidArgumentError(
                "cannot write a download into a socket", provider="local", resource=str(path)
            )
        if st is not None and not stat.S_ISREG(st.st_mode):
            # Devices and FIFOs are written through; replacing them would destroy them.
            with open(target, "wb", buffering=0) as device:
                yield device
            return
        _check_parent(target)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.portacloud-part"
        # 0o666 and O_EXCL: the kernel applies the umask, and nothing else is ever clobbered.
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            doing = f"cannot create a file in {target.parent} to download into"
            raise local_error(exc, target, doing=doing) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
                if st is not None:
                    os.chmod(out.fileno(), stat.S_IMODE(st.st_mode))
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextmanager
def open_upload_source(path: str) -> Iterator[tuple[BinaryIO, int | None, str]]:
    """Open a local file (or ``-`` for stdin) to upload: the stream, its size, a label."""
    if path == "-":
        yield sys.stdin.buffer, None, "stdin"
        return
    with _local(path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise NotFoundError(
                f"no such local file: {path}", provider="local", resource=path
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgumentError(
                f"{path} is a directory; use cp -r to copy a tree", provider="local", resource=path
            )
        with open(path, "rb") as f:
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
            yield f, size, Path(path).name

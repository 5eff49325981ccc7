"""Where the ``file://`` backend keeps an object's content type, metadata and CRC32C.

The record travels with the file itself, so that it is the same whichever directory a bucket
was opened at (docs/decisions/0002-file-layout.md):

1. The user extended attribute ``user.portacloud.meta`` of the data file. It is set on the
   temp file before the rename, so bytes and record appear together, and it lives and dies
   with the inode: deleting the object deletes it.
2. Where the file system has no user xattrs (or refuses one this large), a sidecar beside the
   file: ``DIR/.portacloud/files/<sha256(name)>.json``, replaced under the directory's lock
   just before the data rename, removed with the object.

Every record carries the etag (inode, mtime, size) of the version it describes, so a record
that outlived a rewrite by other tools is detected and ignored rather than trusted.

Before this layout, records lived in ``ROOT/.portacloud/meta/<sha256(key)>.json`` of whichever
root a bucket happened to be opened at. Those stores are still read, and are moved into the
new places by the first write (:func:`migrate_legacy`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any

from portacloud.private_files import moved_into_place
from portacloud.providers.file_tmp import LEGACY_TMP, STALE_AFTER, new_temp, remove_stale

__all__ = [
    "META_XATTR",
    "SIDECAR_DIR",
    "etag_of",
    "legacy_stores",
    "migrate_legacy",
    "read_legacy",
    "read_record",
    "real_sidecar_dir",
    "remove_sidecar",
    "set_xattr",
    "sidecar_dir",
    "write_sidecar",
]

META_XATTR = "user.portacloud.meta"
SIDECAR_DIR = ".portacloud"
_FILES = "files"
_LEGACY_META = "meta"
_LEGACY_LOCKS = "locks"

# setxattr errnos that mean "not here": no user xattrs on this file system, or not this big.
_NO_XATTR = frozenset(
    {errno.ENOTSUP, errno.EOPNOTSUPP, errno.E2BIG, errno.ERANGE, errno.ENOSPC, errno.EPERM}
)

Record = dict[str, Any]


def etag_of(st: os.stat_result) -> str:
    """The version tag of a data file: it changes whenever a write replaces or edits it."""
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def _decode(raw: bytes) -> Record | None:
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def set_xattr(fd: int, record: Record) -> bool:
    """Attach ``record`` to an open file; ``False`` where xattrs cannot hold it."""
    try:
        os.setxattr(fd, META_XATTR, json.dumps(record).encode())
    except OSError as exc:
        if exc.errno in _NO_XATTR:
            return False
        raise
    return True


def sidecar_dir(directory: Path) -> Path:
    """The fallback sidecar directory of the files in ``directory``."""
    return directory / SIDECAR_DIR / _FILES


def _sidecar_path(path: Path) -> Path:
    return sidecar_dir(path.parent) / f"{hashlib.sha256(path.name.encode()).hexdigest()}.json"


def real_sidecar_dir(directory: Path) -> bool:
    """Whether ``directory`` has a sidecar directory that is not reached through a symlink.

    A symlink planted as ``.portacloud`` (or ``.portacloud/files``) would lead sidecar writes,
    and garbage collection, outside the root.
    """
    for level in (directory / SIDECAR_DIR, sidecar_dir(directory)):
        try:
            if not stat.S_ISDIR(os.lstat(level).st_mode):
                return False
        except (FileNotFoundError, NotADirectoryError):
            return False
    return True


def write_sidecar(path: Path, record: Record) -> None:
    """Replace the sidecar of the data file ``path`` (which need not exist yet)."""
    target = _sidecar_path(path)
    for level in (path.parent / SIDECAR_DIR, target.parent):
        with suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(level).st_mode):
                raise PermissionError(errno.EPERM, "a sidecar directory is a symlink", str(level))
        level.mkdir(exist_ok=True)
    fd, tmp = new_temp(target.parent)
    with moved_into_place(tmp, target, os.fdopen(fd, "wb")) as f:
        f.write(json.dumps({**record, "name": path.name}).encode())


def remove_sidecar(path: Path) -> None:
    """Remove the sidecar of ``path`` if there is one, and its directories once empty."""
    target = _sidecar_path(path)
    try:
        target.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return
    for directory in (target.parent, target.parent.parent):
        try:
            directory.rmdir()
        except OSError:
            return  # other sidecars remain


def read_record(fd: int | None, path: Path | str) -> tuple[Record | None, bool]:
    """The record of the open data file ``fd`` (at ``path``), and whether it is the xattr.

    The xattr is read from the descriptor, so it belongs to exactly the version that is open;
    a sidecar is looked up by name and may belong to another version (the caller compares
    etags). With ``fd`` ``None`` the xattr is read by name, never through a symlink, and may
    belong to another version too.
    """
    try:
        if fd is None:
            raw = os.getxattr(path, META_XATTR, follow_symlinks=False)
        else:
            raw = os.getxattr(fd, META_XATTR)
        return _decode(raw), True
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, *_NO_XATTR):
            raise
    try:
        return _decode(_sidecar_path(Path(path)).read_bytes()), False
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None, False


# ---------------------------------------------------------------------- the pre-0002 layout


def legacy_stores(root: Path) -> list[Path]:
    """The directories at or above ``root`` that hold a pre-0002 ``.portacloud/meta`` store."""
    found = []
    for base in (root, *root.parents):
        with suppress(OSError):
            if stat.S_ISDIR(os.stat(base / SIDECAR_DIR / _LEGACY_META).st_mode):
                found.append(base)
    return found


def _legacy_file(base: Path, key: str) -> Path:
    return base / SIDECAR_DIR / _LEGACY_META / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def read_legacy(stores: list[Path], path: Path) -> Record | None:
    """The pre-0002 record of ``path`` from the nearest store that has one."""
    for base in stores:
        if base not in path.parents:
            continue
        try:
            record = _decode(_legacy_file(base, path.relative_to(base).as_posix()).read_bytes())
        except OSError:
            continue
        if record is not None:
            return record
    return None


def _move_one(base: Path, entry: Path) -> None:
    """Move one legacy record onto its data file, if it still describes it; drop it anyway."""
    record = _decode(entry.read_bytes())
    key = record.get("key") if record else None
    parts = key.split("/") if isinstance(key, str) else []
    if record and parts and not any(p in ("", ".", "..") for p in parts):
        path = base.joinpath(*parts)
        with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                # On the descriptor: a version committed meanwhile is another inode, untouched.
                st = os.fstat(fd)
                fresh = {k: v for k, v in record.items() if k != "key"}
                current = stat.S_ISREG(st.st_mode) and record.get("etag") == etag_of(st)
                if current and not set_xattr(fd, fresh):
                    write_sidecar(path, fresh)
            finally:
                os.close(fd)
    entry.unlink(missing_ok=True)


def migrate_legacy(base: Path) -> None:
    """Move a pre-0002 store's records to their files, then remove what is left of it.

    Records whose data file changed or is gone are dropped: no reader would trust them. A
    store this process cannot write (a read-only parent) is left as it is, and still read.
    """
    system = base / SIDECAR_DIR
    try:
        entries = sorted((system / _LEGACY_META).glob("*.json"))
        for entry in entries:
            _move_one(base, entry)
        remove_stale(system / LEGACY_TMP[1], STALE_AFTER, every_file=True)
        for name in (_LEGACY_META, LEGACY_TMP[1]):
            with suppress(OSError):
                (system / name).rmdir()
        locks = system / _LEGACY_LOCKS
        for lock in locks.glob("*"):
            lock.unlink(missing_ok=True)
        with suppress(OSError):
            locks.rmdir()
        with suppress(OSError):
            system.rmdir()
    except OSError:
        return

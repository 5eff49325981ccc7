"""Private local state: directories 0700 and files 0600, whatever the umask.

A job's environment (where users put tokens), its logs and work directories, migration
journals and receipts are nobody else's business, so everything portacloud writes under
:func:`~portacloud.profiles.portacloud_home`, and every journal and receipt, goes through this
module, as kubectl and the aws CLI keep their state. Modes are set explicitly after creation
because the umask can only remove bits, and a umask of 000 removes none.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import IO, Literal

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "is_private_dir",
    "open_private",
    "private_dir",
    "private_file",
    "private_sqlite",
    "private_tree",
    "state_dir",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

# SQLite's side files: they hold the same rows as the database until a checkpoint.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _chmod(path: Path, mode: int) -> None:
    """Set ``mode`` unless it is already set; a path of another user's is left alone."""
    # A path of another user's (a shared parent) is not ours to change; refusing would help
    # nobody.
    with suppress(PermissionError):
        if path.stat().st_mode & 0o7777 != mode:
            path.chmod(mode)


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Create ``path`` and any missing parents as 0700 directories.

    Args:
        path: The directory.
        tighten: Also set 0700 on ``path`` when it exists already (an older store); leave it
            ``False`` for directories the user chose, such as the one a journal goes in.

    Returns:
        ``path``.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        # Another process may make it first: it is tightened below all the same.
        with suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        _chmod(directory, PRIVATE_DIR_MODE)
    if tighten and not missing:
        _chmod(path, PRIVATE_DIR_MODE)
    return path


def private_tree(path: Path) -> Path:
    """Tighten ``path`` and everything under it: directories 0700, files 0600.

    For state an older version left open; symlinks are not followed.
    """
    private_dir(path)
    for parent, dirs, files in os.walk(path):
        for name in dirs:
            _chmod(Path(parent, name), PRIVATE_DIR_MODE)
        for name in files:
            if not Path(parent, name).is_symlink():
                _chmod(Path(parent, name), PRIVATE_FILE_MODE)
    return path


def is_private_dir(path: Path) -> bool:
    """Whether ``path`` is a directory with mode 0700."""
    return path.is_dir() and path.stat().st_mode & 0o7777 == PRIVATE_DIR_MODE


def private_file(path: Path) -> Path:
    """Create ``path`` empty as a 0600 file if it is missing, or tighten it to 0600.

    The parent directory must exist.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o7777 != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path, mode: Literal["ab", "wb"]) -> IO[bytes]:
    """Open ``path`` for appending or writing, creating it 0600 (and tightening it if not)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
    flags |= os.O_APPEND if mode == "ab" else os.O_TRUNC
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o7777 != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def private_sqlite(path: Path) -> Path:
    """Make a SQLite database and its side files private before SQLite opens it.

    SQLite creates ``-wal``, ``-shm`` and ``-journal`` with the database's own mode, so a
    0600 database yields 0600 side files; side files an older version left are tightened.
    """
    private_file(path)
    for suffix in _SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _chmod(side, PRIVATE_FILE_MODE)
    return path


def state_dir(*parts: str) -> Path:
    """``portacloud_home()/parts...``, each level a private directory, created as needed.

    Every level is tightened, the home included, so a store an older version created 0755
    is closed the first time it is opened again.
    """
    from portacloud.home import portacloud_home

    path = portacloud_home()
    # Above the home is the user's (~/.local/share): made as usual if missing, never changed.
    path.parent.mkdir(parents=True, exist_ok=True)
    private_dir(path)
    for part in parts:
        path = private_dir(path / part)
    return path

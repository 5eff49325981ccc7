"""Temp files of the ``file://`` backend: where they live, and how stale ones are removed.

A body being written lives in the target's own directory as ``.portacloud-<uuid>.tmp``: the
final ``rename`` then never crosses a file system, so it is atomic, and a crashed write leaves
its remains next to the object it was writing, where the next writer into that directory (or
``portacloud gc``) finds them. Names starting with ``.portacloud`` are reserved: listings hide
them and keys may not use them.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

__all__ = [
    "LEGACY_TMP",
    "RESERVED_PREFIX",
    "STALE_AFTER",
    "TMP_PREFIX",
    "TMP_SUFFIX",
    "is_reserved",
    "is_temp_name",
    "new_temp",
    "remove_stale",
]

RESERVED_PREFIX = ".portacloud"
TMP_PREFIX = ".portacloud-"
TMP_SUFFIX = ".tmp"
LEGACY_TMP = (".portacloud", "tmp")
"""Where the pre-0002 layout kept its temp files: ``ROOT/.portacloud/tmp/``."""

STALE_AFTER = timedelta(hours=1)
"""A temp file untouched this long belongs to a dead writer: a live one writes, or commits,
far more often than this (a write's temp file is touched by every chunk)."""


def is_reserved(name: str) -> bool:
    """Whether a directory entry is portacloud's own (temp files, sidecar directories)."""
    return name.startswith(RESERVED_PREFIX)


def is_temp_name(name: str) -> bool:
    """Whether a directory entry is a temp file of an unfinished write."""
    return name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)


def new_temp(directory: Path) -> tuple[int, Path]:
    """Create a fresh temp file in ``directory``; return its descriptor and path."""
    path = directory / f"{TMP_PREFIX}{uuid.uuid4().hex}{TMP_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    return fd, path


def _stale_entries(directory: Path, cutoff: float, match: bool) -> Iterator[os.DirEntry[str]]:
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return
    for entry in entries:
        if match and not is_temp_name(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # committed or removed while we looked
        if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
            yield entry


def remove_stale(directory: Path, older_than: timedelta, *, every_file: bool = False) -> list[Path]:
    """Remove temp files in ``directory`` not modified for ``older_than``; return them.

    Args:
        directory: The directory to sweep (not recursively).
        older_than: Minimum age, by modification time.
        every_file: Remove every old regular file, not only temp names (for the legacy
            ``.portacloud/tmp`` directory, which held nothing else).
    """
    cutoff = time.time() - older_than.total_seconds()
    removed = []
    for entry in _stale_entries(directory, cutoff, match=not every_file):
        with suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed

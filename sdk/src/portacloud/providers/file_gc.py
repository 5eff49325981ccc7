"""Garbage the ``file://`` backend can leave behind, and how ``portacloud gc`` removes it.

A writer killed with ``kill -9`` cannot clean up: its temp file stays in the target's
directory (and, on file systems without xattrs, the sidecar it was replacing may stay without
its data file). Nothing here is visible to listings; it only takes space.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

from portacloud.providers.file_meta import SIDECAR_DIR, real_sidecar_dir, sidecar_dir
from portacloud.providers.file_tmp import LEGACY_TMP, remove_stale

__all__ = ["collect"]


def _orphan_sidecars(directory: Path, older_than: timedelta) -> list[Path]:
    """Sidecars in ``directory/.portacloud/files`` whose data file is gone, and are old."""
    if not real_sidecar_dir(directory):
        return []
    cutoff = time.time() - older_than.total_seconds()
    removed = []
    for entry in sidecar_dir(directory).glob("*.json"):
        try:
            name = json.loads(entry.read_bytes()).get("name")
            old = entry.stat().st_mtime < cutoff
        except (OSError, ValueError, AttributeError):
            continue
        if old and isinstance(name, str) and "/" not in name and not (directory / name).exists():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def collect(root: Path, older_than: timedelta) -> list[str]:
    """Remove stale temp files and orphaned sidecars under ``root``; return them, root-relative.

    Symlinks are never followed, so nothing outside the root is looked at.
    """
    removed: list[Path] = []
    for dirpath, _dirnames, _files in os.walk(root, followlinks=False):
        directory = Path(dirpath)
        legacy_tmp = directory.name == LEGACY_TMP[1] and directory.parent.name == LEGACY_TMP[0]
        removed += remove_stale(directory, older_than, every_file=legacy_tmp)
        if SIDECAR_DIR not in (directory.name, directory.parent.name):
            removed += _orphan_sidecars(directory, older_than)
    return sorted(p.relative_to(root).as_posix() for p in removed)

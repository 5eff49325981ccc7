"""A job's ``workdir``: which files ship with it, and copying them where a task runs.

Every backend ships the same files (docs/decisions/0009-job-workdir.md):

- ``.gitignore`` files (the root's and those below it, each relative to its own directory)
  and then a ``.portacloudignore`` at the root, in ``.gitignore`` syntax, decide what is left
  out; ``.git/`` never ships. A ``!pattern`` in ``.portacloudignore`` ships a file git ignores.
- The files that ship may total at most a limit (100 MiB unless the caller says otherwise);
  a bigger workdir is refused at submit, naming its size, the limit and its biggest files.
- Symbolic links are never followed out of the workdir. Where links can ship (``local://``,
  Slurm) a link ships as the link, never as what it points to; where they cannot (Ray's
  zip), a link to a file inside the workdir ships as that file and any other link is left
  out.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import pathspec
from pydantic import BaseModel

from portacloud.errors import InvalidArgumentError
from portacloud.jobs.models import JobCapabilities, JobSpec

__all__ = [
    "DEFAULT_WORKDIR_LIMIT_MB",
    "IGNORE_FILE",
    "Workdir",
    "WorkdirEntry",
    "absolute_workdir",
    "check_workdir",
    "scan_workdir",
    "stage_workdir",
]

#: The default bound on the files a workdir ships, in MiB.
DEFAULT_WORKDIR_LIMIT_MB = 100.0
#: The file, at the workdir's root, whose ``.gitignore``-style patterns leave files out.
IGNORE_FILE = ".portacloudignore"
_MIB = 2**20
_Spec = TypeVar("_Spec", bound=BaseModel)
_NEVER = pathspec.GitIgnoreSpec.from_lines([".git/"])
_BIGGEST = 5

LinkPolicy = Literal["keep", "inside-files"]
# (directory below the root with its trailing "/", its patterns), shallowest first
_Rules = list[tuple[str, pathspec.GitIgnoreSpec]]


@dataclass(frozen=True)
class WorkdirEntry:
    """One thing that ships.

    Attributes:
        path: Its path below the workdir, ``/``-separated.
        kind: ``"file"``, ``"dir"`` or ``"link"``.
        size: Bytes (files only).
        inside: For a link: the regular file it names, relative to the root, when that
            file is inside the workdir and ships; else ``None``.
    """

    path: str
    kind: Literal["file", "dir", "link"]
    size: int = 0
    inside: str | None = None


@dataclass(frozen=True)
class Workdir:
    """The files of a workdir that ship, in walk order (a directory before what it holds)."""

    root: Path
    entries: tuple[WorkdirEntry, ...]

    @property
    def size(self) -> int:
        """Bytes of the regular files that ship."""
        return sum(e.size for e in self.entries)


def _rules(directory: Path, base: str, *, root: bool) -> _Rules:
    """The ignore files of ``directory``: .gitignore, then (at the root) .portacloudignore."""
    names = (".gitignore", IGNORE_FILE) if root else (".gitignore",)
    found = []
    for name in names:
        path = directory / name
        if path.is_file() and not path.is_symlink():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            found.append((base, pathspec.GitIgnoreSpec.from_lines(lines)))
    return found


def _ignored(rel: str, rules: _Rules) -> bool:
    """Git's rule: the deepest, last pattern that matches decides."""
    if _NEVER.match_file(rel):
        return True
    decision = False
    for base, spec in rules:
        result = spec.check_file(rel[len(base) :])
        if result.include is not None:
            decision = result.include
    return decision


def _walk(root: Path, rel: str, rules: _Rules) -> list[WorkdirEntry]:
    directory = root / rel if rel else root
    rules = rules + _rules(directory, rel, root=not rel)
    found: list[WorkdirEntry] = []
    with os.scandir(directory) as listing:
        children = sorted(listing, key=lambda e: e.name)
    for child in children:
        path = f"{rel}{child.name}"
        info = child.stat(follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if not _ignored(path + "/", rules):
                found.append(WorkdirEntry(path, "dir"))
                found.extend(_walk(root, path + "/", rules))
        elif _ignored(path, rules):
            continue
        elif stat.S_ISLNK(info.st_mode):
            found.append(WorkdirEntry(path, "link"))
        elif stat.S_ISREG(info.st_mode):
            found.append(WorkdirEntry(path, "file", size=info.st_size))
        # sockets, FIFOs and devices never ship: they are not files a job can use elsewhere
    return found


def _link_targets(root: Path, entries: list[WorkdirEntry]) -> tuple[WorkdirEntry, ...]:
    """Note, for each link, the shipped regular file inside the workdir it names, if any."""
    real_root = root.resolve()
    files = {e.path for e in entries if e.kind == "file"}
    done = []
    for entry in entries:
        if entry.kind != "link":
            done.append(entry)
            continue
        try:
            rel = (root / entry.path).resolve(strict=True).relative_to(real_root).as_posix()
        except (OSError, RuntimeError, ValueError):
            rel = None  # dangling, looping, or outside the workdir
        done.append(WorkdirEntry(entry.path, "link", inside=rel if rel in files else None))
    return tuple(done)


def _too_big(workdir: Workdir, limit_mb: float) -> InvalidArgumentError:
    files = sorted((e for e in workdir.entries if e.kind == "file"), key=lambda e: -e.size)
    biggest = ", ".join(f"{e.path} ({e.size / _MIB:.1f} MiB)" for e in files[:_BIGGEST])
    return InvalidArgumentError(
        f"workdir {str(workdir.root)!r} ships {workdir.size / _MIB:.1f} MiB, over the limit of "
        f"{limit_mb:g} MiB; biggest files: {biggest}. Leave files out with .gitignore or "
        f"{IGNORE_FILE}, or raise the limit"
    )


def scan_workdir(source: str | os.PathLike[str], *, limit_mb: float | None = None) -> Workdir:
    """List what ``source`` ships, refusing it early if it cannot ship.

    Args:
        source: The workdir: an existing local directory.
        limit_mb: The most MiB its shipped files may total; ``None``: no bound.

    Raises:
        InvalidArgumentError: ``source`` is missing or not a directory, cannot be read, or
            ships more than ``limit_mb`` MiB.
    """
    root = Path(source)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise InvalidArgumentError(f"invalid job spec: workdir {str(root)!r} {what}")
    try:
        workdir = Workdir(root, _link_targets(root, _walk(root, "", [])))
    except OSError as exc:
        raise InvalidArgumentError(f"invalid job spec: cannot read workdir: {exc}") from exc
    if limit_mb is not None and workdir.size > limit_mb * _MIB:
        raise _too_big(workdir, limit_mb)
    return workdir


def stage_workdir(workdir: Workdir, target: Path, *, links: LinkPolicy = "keep") -> None:
    """Copy what ``workdir`` ships into ``target`` (created; it must not hold those names).

    Args:
        workdir: What :func:`scan_workdir` listed.
        target: The directory to fill.
        links: ``"keep"``: links ship as links. ``"inside-files"``: a link to a file inside
            the workdir ships as a copy of that file; any other link is left out.
    """
    target.mkdir(parents=True, exist_ok=True)
    for entry in workdir.entries:
        dest = target / entry.path
        if entry.kind == "dir":
            dest.mkdir()
        elif entry.kind == "file":
            shutil.copy2(workdir.root / entry.path, dest, follow_symlinks=False)
        elif links == "keep":
            os.symlink(os.readlink(workdir.root / entry.path), dest)
        elif entry.inside is not None:
            shutil.copy2(workdir.root / entry.inside, dest, follow_symlinks=False)


def absolute_workdir(spec: _Spec, base_dir: str | os.PathLike[str] | None) -> _Spec:
    """Pin a relative ``workdir`` down now: the backend runs elsewhere, in another directory.

    Args:
        spec: The validated spec (a job's or a service's).
        base_dir: What a relative ``workdir`` is relative to (the spec file's directory);
            ``None``: the current directory.
    """
    given: str | None = getattr(spec, "workdir", None)
    if given is None:
        return spec
    workdir = Path(given).expanduser()
    if not workdir.is_absolute():
        workdir = Path(base_dir if base_dir is not None else Path.cwd()).absolute() / workdir
    return spec.model_copy(update={"workdir": os.path.normpath(workdir)})


def check_workdir(
    spec: JobSpec, capabilities: JobCapabilities, *, limit_mb: float | None
) -> Workdir | None:
    """Refuse, before anything is submitted, a workdir that could not ship.

    Args:
        spec: The spec, its ``workdir`` already absolute.
        capabilities: The backend's; a non-zero ``max_workdir_mb`` bounds the limit.
        limit_mb: The caller's bound; ``None``: :data:`DEFAULT_WORKDIR_LIMIT_MB`.

    Returns:
        What ships, or ``None`` for a spec without a workdir.
    """
    if spec.workdir is None:
        return None
    limit = DEFAULT_WORKDIR_LIMIT_MB if limit_mb is None else limit_mb
    if limit <= 0:
        raise InvalidArgumentError(f"the workdir limit must be positive, not {limit_mb!r} MiB")
    if capabilities.max_workdir_mb:
        limit = min(limit, capabilities.max_workdir_mb)
    return scan_workdir(spec.workdir, limit_mb=limit)

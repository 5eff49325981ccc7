"""fsspec listing entries from portable listings: one level (``ls``) or a whole tree (``find``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from portacloud.storage.models import ObjectInfo, PrefixInfo

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket

__all__ = ["dir_entry", "file_entry", "group_by_dir", "list_dir", "list_tree"]


def file_entry(name: str, info: ObjectInfo) -> dict[str, Any]:
    """The fsspec ``info`` dict of an object.

    ``ETag`` is what Hugging Face ``datasets`` fingerprints caches from; ``LastModified`` and
    ``ContentType`` use s3fs's names so code written against s3fs finds them.
    """
    return {
        "name": name,
        "size": info.size,
        "type": "file",
        "ETag": info.etag,
        "LastModified": info.last_modified,
        "ContentType": info.content_type,
        "crc32c": info.crc32c,
    }


def dir_entry(name: str) -> dict[str, Any]:
    """The fsspec ``info`` dict of an inferred directory."""
    return {"name": name, "size": 0, "type": "directory"}


def _prefix_of(path: str) -> str:
    return f"{path}/" if path else ""


def list_dir(bucket: Bucket, path: str) -> list[dict[str, Any]]:
    """The entries directly under ``path``: one delimiter listing where the backend has it."""
    prefix = _prefix_of(path)
    delimiter = "/" if bucket.capabilities.list_with_delimiter else None
    files: list[dict[str, Any]] = []
    dirs: dict[str, dict[str, Any]] = {}
    for entry in bucket.list(prefix, delimiter=delimiter):
        rest = entry.key[len(prefix) :]
        if isinstance(entry, PrefixInfo):
            name = entry.key[:-1]  # drop the delimiter
            if rest.strip("/"):
                dirs.setdefault(name, dir_entry(name))
        elif "/" in rest:  # only without a delimiter: infer the child directory
            name = prefix + rest.split("/", 1)[0]
            if rest.split("/", 1)[0]:
                dirs.setdefault(name, dir_entry(name))
        elif rest:  # a "dir/" marker object names the directory itself: skip it
            files.append(file_entry(entry.key, entry))
    if dirs and not bucket.capabilities.list_prefixes_exact:
        dirs = _live_dirs(bucket, dirs)
    return [*dirs.values(), *files]


def _live_dirs(bucket: Bucket, dirs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Only the directories that still hold an object (one short listing each, in parallel)."""

    def live(name: str) -> bool:
        return next(iter(bucket.list(name + "/", page_size=1)), None) is not None

    with ThreadPoolExecutor(min(16, len(dirs))) as pool:
        keep = list(pool.map(live, dirs))
    return {name: entry for (name, entry), ok in zip(dirs.items(), keep, strict=True) if ok}


def list_tree(bucket: Bucket, path: str, *, withdirs: bool) -> dict[str, dict[str, Any]]:
    """Every object below ``path`` from one flat listing, plus inferred directories."""
    prefix = _prefix_of(path)
    out: dict[str, dict[str, Any]] = {}
    for entry in bucket.list(prefix):
        if not isinstance(entry, ObjectInfo):
            continue
        rest = entry.key[len(prefix) :]
        if not rest or rest.endswith("/"):
            continue  # directory markers written by other tools
        out[entry.key] = file_entry(entry.key, entry)
        if withdirs:
            parts = rest.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                name = prefix + "/".join(parts[:depth])
                out.setdefault(name, dir_entry(name))
    if withdirs and path and out:
        out[path] = dir_entry(path)
    return out


def group_by_dir(path: str, tree: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The listing of every directory at or under ``path``, from a complete ``list_tree``.

    ``tree`` must hold the directories too (``withdirs=True``): a flat listing of a prefix
    names everything beneath it, so each directory's entries are known without another call.
    """
    listings: dict[str, list[dict[str, Any]]] = {path: []}
    for name, entry in tree.items():
        if name == path:
            continue
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        listings.setdefault(parent, []).append(entry)
    return listings

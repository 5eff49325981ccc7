"""Opening both sides of a migration and refusing bad input before any byte moves."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from portacloud.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
)
from portacloud.registry import open_bucket, parse_url
from portacloud.storage.bucket import Bucket

__all__ = ["Endpoints", "open_endpoints"]


@dataclass(slots=True)
class Endpoints:
    """The two buckets of a migration, and how objects can move between them.

    Attributes:
        src: The source bucket.
        dst: The destination bucket.
        src_url: The source URL (the journal key).
        dst_url: The destination URL.
        root: A bucket over the one storage bucket that holds both sides, when they share
            one, for server-side copies; ``None`` otherwise.
        src_prefix: The source's key prefix inside ``root``.
        dst_prefix: The destination's key prefix inside ``root``.
        owned: Buckets this module opened and must close.
    """

    src: Bucket
    dst: Bucket
    src_url: str
    dst_url: str
    root: Bucket | None = None
    src_prefix: str = ""
    dst_prefix: str = ""
    owned: tuple[Bucket, ...] = ()

    def close(self) -> None:
        """Close the buckets opened from URLs."""
        for bucket in self.owned:
            bucket.close()


def _file_root(url: str) -> Path | None:
    parts, _ = parse_url(url)
    if parts.scheme != "file":
        return None
    # realpath: two spellings of one directory (symlinks, '..') are one bucket.
    return Path(os.path.realpath(unquote(parts.path)))


def _check_file_source(src: str) -> None:
    """A file:// source must exist; say so in the migration's own words, before anything."""
    root = _file_root(src)
    if root is not None and not root.is_dir():
        raise NotFoundError(
            f"the source {src} does not exist (no directory {root})",
            operation="migrate",
            resource=src,
        )


def _check_paths(src_root: Path, dst_root: Path) -> None:
    if src_root == dst_root:
        raise InvalidArgumentError(
            f"the source and the destination are the same directory ({src_root})",
            operation="migrate",
        )
    if src_root in dst_root.parents or dst_root in src_root.parents:
        raise InvalidArgumentError(
            f"the source ({src_root}) and the destination ({dst_root}) overlap: one is "
            "inside the other, so the copy would read its own output",
            operation="migrate",
        )


def _check_file_pair(src: str, dst: str) -> None:
    """Compare file:// URLs before opening them (realpath: two spellings, one directory)."""
    src_root, dst_root = _file_root(src), _file_root(dst)
    if src_root is not None and dst_root is not None:
        _check_paths(src_root, dst_root)


def _root_and_prefix(bucket: Bucket) -> tuple[str, str]:
    """Split a bucket's URL into the storage bucket it names and the key prefix inside it."""
    parts = urlsplit(bucket.url)
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    path = unquote(parts.path).rstrip("/")
    stem = bucket.prefix.rstrip("/")
    if stem and path.endswith("/" + stem):
        path = path[: -len(stem) - 1]
    elif stem:
        path = ""  # the provider spells its prefix differently: compare on the host alone
    root = f"{parts.scheme}://{parts.netloc}{path}"
    return (f"{root}?{query}" if query else root), bucket.prefix


def _check_overlap(src: Bucket, dst: Bucket) -> tuple[str, str, str] | None:
    """Refuse one bucket on both sides; return (root URL, src prefix, dst prefix) if shared."""
    if src.provider != dst.provider:
        return None
    src_path, dst_path = src.as_native(Path), dst.as_native(Path)
    if src_path is not None and dst_path is not None and src_path.resolve() != dst_path.resolve():
        _check_paths(src_path.resolve(), dst_path.resolve())
        return None
    src_root, src_prefix = _root_and_prefix(src)
    dst_root, dst_prefix = _root_and_prefix(dst)
    if src_root != dst_root:
        return None
    if src_prefix == dst_prefix:
        raise InvalidArgumentError(
            f"the source and the destination are the same ({src.url})", operation="migrate"
        )
    if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
        raise InvalidArgumentError(
            f"the source prefix {src_prefix!r} and the destination prefix {dst_prefix!r} "
            f"overlap in {src_root}: listing one would list the other",
            operation="migrate",
        )
    return src_root, src_prefix, dst_prefix


def _probe(bucket: Bucket, role: str) -> None:
    """List one key, so that a missing bucket or a missing permission fails now, clearly."""
    try:
        next(iter(bucket.list(page_size=1)), None)
    except PortaCloudError as exc:
        raise type(exc)(
            f"cannot list the {role} {bucket.url}: {exc.message}",
            provider=exc.provider,
            operation="migrate",
            retryable=exc.retryable,
        ) from exc


def _create_file_destination(dst: str) -> None:
    """Create a missing file:// destination: opening creates nothing, and listing it would fail."""
    root = _file_root(dst)
    if root is None or root.is_dir():
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionDeniedError(
            f"cannot create the destination directory {root}: {exc.strerror}",
            provider="file",
            operation="migrate",
            resource=dst,
        ) from exc


def _open(target: str | Bucket, role: str, *, dry_run: bool) -> tuple[Bucket, str, bool]:
    if isinstance(target, Bucket):
        return target, target.url, False
    if not isinstance(target, str):
        raise InvalidArgumentError(
            f"the {role} must be a URL or a Bucket, not {type(target).__name__}"
        )
    root = _file_root(target)
    if dry_run and root is not None and not root.exists():
        # A missing file:// directory cannot be listed, and a dry run creates nothing: a
        # destination that does not exist yet is planned as the empty bucket it will be.
        return _empty_stand_in(target), target, True
    return open_bucket(target), target, True


def _empty_stand_in(url: str) -> Bucket:
    from portacloud.providers.memory import MemoryDriver

    driver = MemoryDriver(f"portacloud-dry-run-{uuid.uuid4().hex}")
    driver.provider = "file"  # priced, and named in messages, as the backend it stands for
    return Bucket(driver, url=url)


def open_endpoints(src: str | Bucket, dst: str | Bucket, *, dry_run: bool = False) -> Endpoints:
    """Open and check both sides of a migration.

    Nothing is written but a missing ``file://`` destination directory, made just before it is
    listed (the run is about to write into it); with ``dry_run`` it is not created but planned as
    empty. The checks list one key per side; file URLs are compared before they are opened.

    Raises:
        InvalidArgumentError: The two sides are the same, or overlap.
        NotFoundError: A bucket does not exist.
        PermissionDeniedError: A bucket cannot be listed with these credentials.
        UnavailableError: A backend cannot be reached.
    """
    if isinstance(src, str):
        _check_file_source(src)
        if isinstance(dst, str):
            _check_file_pair(src, dst)
    src_bucket, src_url, own_src = _open(src, "source", dry_run=False)
    owned: list[Bucket] = [src_bucket] if own_src else []
    try:
        dst_bucket, dst_url, own_dst = _open(dst, "destination", dry_run=dry_run)
        if own_dst:
            owned.append(dst_bucket)
        shared = _check_overlap(src_bucket, dst_bucket)
        _probe(src_bucket, "source")
        if isinstance(dst, str) and not dry_run:
            _create_file_destination(dst)
        _probe(dst_bucket, "destination")
        ends = Endpoints(src=src_bucket, dst=dst_bucket, src_url=src_url, dst_url=dst_url, owned=())
        if shared is not None and own_src and own_dst and src_bucket.capabilities.server_side_copy:
            root_url, src_prefix, dst_prefix = shared
            root = open_bucket(root_url)
            owned.append(root)
            if root.prefix == "":
                ends.root, ends.src_prefix, ends.dst_prefix = root, src_prefix, dst_prefix
        ends.owned = tuple(owned)
        return ends
    except BaseException:
        for bucket in owned:
            bucket.close()
        raise

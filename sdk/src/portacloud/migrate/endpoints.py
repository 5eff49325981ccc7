"""Opening both sides of a migration and refusing bad input before any byte moves."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

from portacloud.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
)
from portacloud.migrate.models import KeyRange
from portacloud.openers import open_bucket
from portacloud.storage.bucket import Bucket
from portacloud.storage.cross_copy import can_copy_between
from portacloud.storage.driver import BucketDriver, ListOptions
from portacloud.storage.models import ListPage

if TYPE_CHECKING:
    from portacloud.profiles import Profile

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
        across: The destination copies from the source inside the service although they are
            two buckets (one store, one set of credentials, create-only copies): see
            :func:`~portacloud.storage.cross_copy.copy_between`.
        src_prefix: The source's key prefix inside ``root``.
        dst_prefix: The destination's key prefix inside ``root``.
        owned: Buckets this module opened and must close.
        key_range: The keys this run covers (one shard of a sharded migration); ``None``: all.
    """

    src: Bucket
    dst: Bucket
    src_url: str
    dst_url: str
    root: Bucket | None = None
    across: bool = False
    src_prefix: str = ""
    dst_prefix: str = ""
    owned: tuple[Bucket, ...] = ()
    key_range: KeyRange | None = None

    @property
    def server_side(self) -> bool:
        """Whether copies can run inside the storage service (one bucket, or two reachable)."""
        return self.root is not None or self.across

    def close(self) -> None:
        """Close the buckets opened from URLs."""
        for bucket in self.owned:
            bucket.close()


def _local_root(bucket: Bucket) -> Path | None:
    """The directory behind a bucket whose objects are local files, else ``None``."""
    native = bucket.as_native(Path)
    # realpath: two spellings of one directory (symlinks, '..') are one bucket.
    return None if native is None else Path(os.path.realpath(native))


def _check_local_source(src: Bucket) -> None:
    """A local source must exist; say so in the migration's own words, before anything."""
    root = _local_root(src)
    if root is not None and not root.is_dir():
        raise NotFoundError(
            f"the source {src.url} does not exist (no directory {root})",
            operation="migrate",
            resource=src.url,
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
    src_path, dst_path = _local_root(src), _local_root(dst)
    if (src_path is not None and dst_path is not None) and (
        src_path != dst_path or not (src.prefix or dst.prefix)
    ):
        # Two directories, or one directory on both sides.
        _check_paths(src_path, dst_path)
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


def _copies_across(src: Bucket, dst: Bucket) -> bool:
    """Whether ``dst`` copies from ``src`` inside the service, create-only as every copy of a
    migration must be (two buckets of one store and one set of credentials)."""
    return dst.capabilities.copy_with_if_none_match and can_copy_between(src, dst)


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


def _create_local_destination(dst: Bucket) -> None:
    """Create a missing local destination: opening creates nothing, and listing it would fail."""
    root = _local_root(dst)
    if root is None or root.is_dir():
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionDeniedError(
            f"cannot create the destination directory {root}: {exc.strerror}",
            provider=dst.provider,
            operation="migrate",
            resource=dst.url,
        ) from exc


def _open(
    target: str | Bucket, role: str, profile: str | Profile | None
) -> tuple[Bucket, str, bool]:
    if isinstance(target, Bucket):
        return target, target.url, False
    if not isinstance(target, str):
        raise InvalidArgumentError(
            f"the {role} must be a URL or a Bucket, not {type(target).__name__}"
        )
    return open_bucket(target, profile=profile), target, True


class _NotYetMade:
    """The driver of a local directory that does not exist yet, listed as the empty bucket it
    will be (a dry run creates nothing, and a missing directory cannot be listed).

    Everything but listing goes to the real driver, so the stand-in keeps its provider name,
    its capabilities and its errors.
    """

    def __init__(self, driver: BucketDriver) -> None:
        self._inner = driver
        self.provider = driver.provider
        self.capabilities = driver.capabilities

    def list_page(self, options: ListOptions) -> ListPage:
        return ListPage()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _planned_as_empty(bucket: Bucket) -> Bucket:
    """``bucket`` itself, or, for a local directory that does not exist, an empty stand-in."""
    root = _local_root(bucket)
    if root is None or root.exists():
        return bucket
    # The stand-in shares the real driver, which the endpoints close with the real bucket.
    stand_in = cast("BucketDriver", _NotYetMade(bucket._driver))
    return Bucket(stand_in, url=bucket.url, prefix=bucket.prefix)


def open_endpoints(
    src: str | Bucket,
    dst: str | Bucket,
    *,
    dry_run: bool = False,
    profile: str | Profile | None = None,
) -> Endpoints:
    """Open and check both sides of a migration.

    Nothing is written but a missing local destination directory, made just before it is
    listed (the run is about to write into it); with ``dry_run`` it is not created but planned as
    empty. The checks list one key per side; local directories are compared as soon as both
    sides are open (opening touches nothing).

    Raises:
        InvalidArgumentError: The two sides are the same, or overlap.
        NotFoundError: A bucket does not exist.
        PermissionDeniedError: A bucket cannot be listed with these credentials, or the
            destination is outside the region policy of ``profile``.
        UnavailableError: A backend cannot be reached.
    """
    if isinstance(profile, str):
        from portacloud.profiles import load_profile

        profile = load_profile(profile)  # read once, not once per bucket opened
    src_bucket, src_url, own_src = _open(src, "source", profile)
    owned: list[Bucket] = [src_bucket] if own_src else []
    try:
        if own_src:
            _check_local_source(src_bucket)
        dst_bucket, dst_url, own_dst = _open(dst, "destination", profile)
        if own_dst:
            owned.append(dst_bucket)
            if dry_run:
                dst_bucket = _planned_as_empty(dst_bucket)
        shared = _check_overlap(src_bucket, dst_bucket)
        _probe(src_bucket, "source")
        if not dry_run:
            # A destination outside the region policy is refused before the journal, the
            # plan or any local directory is made.
            dst_bucket.check_region("write", operation="migrate")
        if own_dst and not dry_run:
            _create_local_destination(dst_bucket)
        _probe(dst_bucket, "destination")
        ends = Endpoints(src=src_bucket, dst=dst_bucket, src_url=src_url, dst_url=dst_url, owned=())
        if shared is not None and own_src and own_dst and src_bucket.capabilities.server_side_copy:
            root_url, src_prefix, dst_prefix = shared
            root = open_bucket(root_url, profile=profile)
            owned.append(root)
            if root.prefix == "":
                ends.root, ends.src_prefix, ends.dst_prefix = root, src_prefix, dst_prefix
        elif shared is None:
            ends.across = _copies_across(src_bucket, dst_bucket)
        ends.owned = tuple(owned)
        return ends
    except BaseException:
        for bucket in owned:
            bucket.close()
        raise

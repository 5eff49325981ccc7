"""``Bucket.erase``: delete everything stored under a prefix, prove it by listing, keep a receipt.

Everything means every version the backend keeps (S3 noncurrent versions and delete markers,
GCS generations, Azure versions and uncommitted blobs) where the driver can list them
(``capabilities.versions``), and every unfinished multipart upload where uploads can be listed
(``capabilities.list_uploads``). After deleting, the same listings run again: the erasure is
verified only when they find nothing under the prefix. What a backend stores outside its API
(backups, replicas, soft-deleted copies kept by a retention policy) no listing can show; see
docs/residency-and-erasure.md.

The receipt is one JSON line per version or upload erased (and per one still found), written
atomically like a migration's; its SHA-256 is what an auditor keeps.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from portacloud.errors import InvalidArgumentError
from portacloud.storage.driver import (
    BucketDriver,
    PendingUpload,
    StoredVersion,
    SupportsUploads,
    SupportsVersions,
)
from portacloud.storage.keys import check_key
from portacloud.storage.models import ObjectInfo

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket

__all__ = ["EraseResult", "Eraser", "ErasureLine"]

_T = TypeVar("_T")
#: Rounds of delete-then-list: a versioned Azure account turns a deleted blob into a version,
#: and a writer may finish an upload meanwhile; what is still there after these is reported.
_ROUNDS = 3
_BATCH = 1000

Kind = Literal["object", "version", "delete_marker", "upload"]


class _Call(Protocol):
    """``Bucket._call``: one guarded call, retried under the bucket's policy."""

    def __call__(self, operation: str, resource: str | None, fn: Callable[[], _T]) -> _T: ...


class ErasureLine(BaseModel):
    """One line of an erase receipt: a version or upload that was erased, or is still there.

    Attributes:
        key: The key, relative to the bucket URL that was erased from.
        kind: ``object`` (a backend without versions), ``version`` (one stored version or
            generation), ``delete_marker`` (S3) or ``upload`` (an unfinished multipart upload).
        version: The version ID, generation or upload ID; ``None`` where there is none.
        size: Bytes, where the listing says.
        crc32c: The CRC32C of the bytes (8 hex digits), where the listing says.
        erased_at: When its delete returned (UTC); ``None`` for one found only at verification.
        verified: The listings after the erasure no longer show it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    kind: Kind
    version: str | None = None
    size: int | None = Field(default=None, ge=0)
    crc32c: str | None = None
    erased_at: datetime | None = None
    verified: bool = False


class EraseResult(BaseModel):
    """What :meth:`Bucket.erase` did (or, on a dry run, would do).

    Attributes:
        url: The bucket URL erased from.
        prefix: The prefix, relative to ``url``.
        dry_run: Nothing was deleted; ``items`` is what would go.
        objects: Objects and stored versions erased (or found, on a dry run).
        delete_markers: S3 delete markers erased.
        uploads: Unfinished multipart uploads aborted.
        bytes: Bytes of the objects and versions, where the listings gave sizes.
        verified: The listings after the erasure found nothing under the prefix.
        remaining: Versions and uploads those listings still found.
        receipt: The receipt file (JSON lines), or ``None`` on a dry run.
        receipt_sha256: The receipt's SHA-256 (hex): keep it to prove the file unchanged.
        items: Every line of the receipt (on a dry run, what would be erased).
        unverifiable: What this backend cannot show, and so cannot be proven gone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    prefix: str
    dry_run: bool
    objects: int = 0
    delete_markers: int = 0
    uploads: int = 0
    bytes: int = 0
    verified: bool = False
    remaining: int = 0
    receipt: str | None = None
    receipt_sha256: str | None = None
    items: tuple[ErasureLine, ...] = ()
    unverifiable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Found:
    """One thing stored under the prefix: a version (or object) or an unfinished upload."""

    kind: Kind
    key: str  # full key, the bucket prefix included
    version: str | None
    size: int | None = None
    crc32c: str | None = None
    stored: StoredVersion | None = None
    upload: PendingUpload | None = None

    @property
    def identity(self) -> tuple[str, str, str | None]:
        return (self.kind, self.key, self.version)


class Eraser:
    """Erases one prefix of one bucket; :meth:`Bucket.erase` is its only caller."""

    def __init__(self, bucket: Bucket, driver: BucketDriver, call: _Call) -> None:
        self._bucket = bucket
        self._driver = driver
        self._call = call
        self._caps = driver.capabilities
        self._versions = driver if isinstance(driver, SupportsVersions) else None
        self._uploads = driver if isinstance(driver, SupportsUploads) else None
        if not self._caps.versions:
            self._versions = None
        if not self._caps.list_uploads:
            self._uploads = None

    def run(
        self,
        prefix: str,
        *,
        dry_run: bool,
        whole_bucket: bool,
        receipt: str | os.PathLike[str] | None,
    ) -> EraseResult:
        """Erase (or list, on a dry run) everything under ``prefix``; see :meth:`Bucket.erase`."""
        self._check_prefix(prefix, whole_bucket=whole_bucket)
        full_prefix = self._bucket.prefix + prefix
        found = self._listing(full_prefix)
        if dry_run:
            return self._result(prefix, [self._line(f) for f in found], dry_run=True)
        path = Path(receipt) if receipt is not None else _default_receipt(self._bucket.url, prefix)
        _check_receipt_place(path)  # before anything is deleted: never erase without a receipt
        erased: dict[tuple[str, str, str | None], ErasureLine] = {}
        for _ in range(_ROUNDS):
            if not found:
                break
            for item, when in self._delete(prefix, found):
                erased[item.identity] = self._line(item, erased_at=when)
            found = self._listing(full_prefix)
        still = {f.identity: f for f in found}
        lines = [
            line.model_copy(update={"verified": key not in still}) for key, line in erased.items()
        ]
        lines += [self._line(f) for key, f in still.items() if key not in erased]
        from portacloud.migrate.receipt import write_jsonl

        _, sha = write_jsonl(lines, path)
        return self._result(
            prefix, lines, dry_run=False, remaining=len(still), receipt=(str(path), sha)
        )

    # ----------------------------------------------------------------- checks

    def _check_prefix(self, prefix: object, *, whole_bucket: bool) -> None:
        if not isinstance(prefix, str):
            raise InvalidArgumentError(f"prefix must be a str, not {type(prefix).__name__}")
        if not prefix:
            if not whole_bucket:
                raise InvalidArgumentError(
                    f"erase('') would erase everything in {self._bucket.url}: name a prefix "
                    "such as 'user-42/', or pass whole_bucket=True"
                )
            return
        stem = prefix[:-1] if prefix.endswith("/") else prefix
        check_key(stem or prefix, self._caps, full_key=self._bucket.prefix + (stem or prefix))

    # ----------------------------------------------------------------- listing

    def _listing(self, full_prefix: str) -> list[_Found]:
        """Everything stored under ``full_prefix``; a key outside it is never returned."""
        found: list[_Found] = []
        if self._versions is not None:
            lister = self._versions
            versions = self._call("erase", None, partial(lister.list_versions, full_prefix))
            found += [_from_version(v) for v in versions]
        else:
            cut = len(self._bucket.prefix)
            listed = self._bucket.list(full_prefix[cut:])
            found += [
                _from_object(o, self._bucket.prefix) for o in listed if isinstance(o, ObjectInfo)
            ]
        if self._uploads is not None:
            uploads = self._call("erase", None, partial(self._uploads.list_uploads, full_prefix))
            found += [_Found("upload", u.key, u.upload_id, upload=u) for u in uploads]
        # The server's prefix filter is not trusted: user-42/ must never reach user-420/.
        inside = [f for f in found if f.key.startswith(full_prefix)]
        return sorted(inside, key=lambda f: (f.key, f.kind, f.version or ""))

    # ----------------------------------------------------------------- deleting

    def _delete(self, prefix: str, found: list[_Found]) -> Iterable[tuple[_Found, datetime]]:
        """Delete ``found`` in batches, yielding each item with the time its delete returned."""
        versioned, cut = self._versions, len(self._bucket.prefix)
        stored = [f for f in found if f.stored is not None]
        for i in range(0, len(stored), _BATCH):
            batch = stored[i : i + _BATCH]
            versions = [f.stored for f in batch if f.stored is not None]
            if versioned is not None:  # only a driver that lists versions finds them
                self._call("erase", prefix, partial(versioned.delete_versions, versions))
            yield from self._stamped(batch)
        plain = [f for f in found if f.kind == "object" and f.stored is None]
        for i in range(0, len(plain), _BATCH):
            batch = plain[i : i + _BATCH]
            self._bucket.delete_many([f.key[cut:] for f in batch])
            yield from self._stamped(batch)
        uploader = self._uploads
        for item in found:
            if item.upload is not None and uploader is not None:
                self._call("erase", item.key, partial(uploader.abort_upload, item.upload))
                yield from self._stamped([item])

    @staticmethod
    def _stamped(batch: list[_Found]) -> Iterable[tuple[_Found, datetime]]:
        when = datetime.now(UTC)
        return ((f, when) for f in batch)

    # ----------------------------------------------------------------- results

    def _line(self, found: _Found, *, erased_at: datetime | None = None) -> ErasureLine:
        return ErasureLine(
            key=found.key[len(self._bucket.prefix) :],
            kind=found.kind,
            version=found.version,
            size=found.size,
            crc32c=found.crc32c,
            erased_at=erased_at,
        )

    def _result(
        self,
        prefix: str,
        lines: list[ErasureLine],
        *,
        dry_run: bool,
        remaining: int = 0,
        receipt: tuple[str, str] | None = None,
    ) -> EraseResult:
        stored = [line for line in lines if line.kind in ("object", "version")]
        return EraseResult(
            url=self._bucket.url,
            prefix=prefix,
            dry_run=dry_run,
            objects=len(stored),
            delete_markers=sum(1 for line in lines if line.kind == "delete_marker"),
            uploads=sum(1 for line in lines if line.kind == "upload"),
            bytes=sum(line.size or 0 for line in stored),
            verified=not dry_run and remaining == 0,
            remaining=remaining,
            receipt=None if receipt is None else receipt[0],
            receipt_sha256=None if receipt is None else receipt[1],
            items=tuple(lines),
            unverifiable=self._unverifiable(),
        )

    def _unverifiable(self) -> tuple[str, ...]:
        gaps = []
        if self._versions is None:
            gaps.append(
                f"{self._driver.provider}: versions are not listed (capability versions is "
                "false): only current objects were seen"
            )
        if self._uploads is None:
            gaps.append(
                f"{self._driver.provider}: unfinished uploads are not listed (capability "
                "list_uploads is false)"
            )
        return tuple(gaps)


def _from_version(version: StoredVersion) -> _Found:
    kind: Kind = "delete_marker" if version.delete_marker else "version"
    if version.version is None and not version.delete_marker:
        kind = "object"
    return _Found(
        kind,
        version.key,
        version.version,
        size=version.size,
        crc32c=version.crc32c,
        stored=version,
    )


def _from_object(info: ObjectInfo, bucket_prefix: str) -> _Found:
    return _Found("object", bucket_prefix + info.key, None, size=info.size, crc32c=info.crc32c)


def _default_receipt(url: str, prefix: str) -> Path:
    """``$PORTACLOUD_HOME/erase/<UTC time>-<12 hex of the URL>.receipt.jsonl``."""
    from portacloud.private_files import state_dir

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tag = hashlib.sha256(f"{url}\0{prefix}".encode()).hexdigest()[:12]
    return state_dir("erase") / f"{stamp}-{tag}.receipt.jsonl"


def _check_receipt_place(path: Path) -> None:
    """Refuse a receipt path that cannot be written; its directory is made if missing."""
    from portacloud.private_files import private_dir

    parent = path.parent
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif parent.exists() and not parent.is_dir():
        problem = f"{parent} is not a directory"
    elif not parent.exists() and not parent.parent.exists():
        problem = f"{parent.parent} does not exist"  # a typo should not grow a tree
    if problem is None:
        try:
            private_dir(parent, tighten=False)
        except OSError as exc:
            problem = exc.strerror or str(exc)
        else:
            if not os.access(parent, os.W_OK):
                problem = f"{parent} is not writable"
    if problem is not None:
        raise InvalidArgumentError(f"cannot write the erase receipt {path}: {problem}")

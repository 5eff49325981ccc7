"""The copy phase: move one planned object, streaming, pinned and conditional.

Each call copies exactly the source version the plan pinned, or notices that the source
changed and copies the version it opened instead (re-planning that key, never mixing
versions: one open reader is one version, and its CRC32C is checked at the end). Every write is
conditional on the destination version the plan saw, so an object that someone else wrote
after the plan is never replaced.

The CRC32C a copy records as the source's must come from somewhere other than the very read it
describes: the source's own record (checked before the write commits), an earlier read that agreed,
or the source's native MD5. Without one, the row keeps no source checksum, and verification
reads the source a second time: bytes damaged on the way in would otherwise be written, hashed
and "verified" against themselves.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from portacloud.errors import (
    ChecksumMismatchError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.migrate.endpoints import Endpoints
from portacloud.migrate.journal import JournalRow
from portacloud.migrate.models import Action, ObjectState
from portacloud.migrate.reading import (
    BytesCallback,
    Meter,
    ReadCheck,
    native_md5,
    opened_info,
    read_all,
    read_check,
    take_over_check,
)
from portacloud.storage.cross_copy import copy_between
from portacloud.storage.hashed import HashedBytes
from portacloud.storage.models import ObjectInfo

__all__ = ["FATAL_ERRORS", "SMALL_OBJECT", "Copier", "CopyOutcome"]

#: Objects up to this size are read into memory and written as bytes, which the portable
#: layer can retry as a whole; larger ones are streamed (memory: concurrency x this, at most).
SMALL_OBJECT = 8 * 1024 * 1024

#: Errors that no other object will escape either: the run stops at the first one.
FATAL_ERRORS = (PermissionDeniedError, UnauthenticatedError)

#: Failures of a write that may have been applied all the same: an answer that never came, or
#: came damaged (a Content-MD5 that does not match what was sent), or a server error.
_UNKNOWN_OUTCOME = (UnavailableError, DeadlineExceededError, InternalError)


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    """What became of one planned copy.

    Attributes:
        row: The row to record in the journal.
        written: Bytes written to the destination by this attempt.
        reported: Of those, bytes already reported through the bytes callback.
        replanned: The source had changed since the plan (or during the copy).
        retry: A failure that a second attempt right away will probably not meet (bytes
            damaged in transit, a write whose outcome stayed unknown); the copier makes it.
    """

    row: JournalRow
    written: int = 0
    reported: int = 0
    replanned: bool = False
    retry: bool = False


@dataclass(frozen=True, slots=True)
class _Read:
    """The bytes one copy read: their CRC32C, their size, and whether anything but this read
    vouches for that CRC32C (see the module docstring)."""

    crc32c: str | None
    size: int
    trusted: bool


@dataclass(frozen=True, slots=True)
class _Opened:
    """One source version, open, and the write it is about to become."""

    row: JournalRow
    reader: Any
    info: ObjectInfo
    options: dict[str, Any]
    replanned: bool


class _ConflictError(Exception):
    """The destination is not the version the plan saw."""


class Copier:
    """Copies planned rows from ``ends.src`` to ``ends.dst``; safe to call from many threads.

    Args:
        ends: The two sides.
        on_bytes: Called as bytes of large objects move.
        on_warning: Called once with a line for people when the copy has to lower a
            guarantee (a destination that refuses conditional streamed writes).
        cancel: Set to make streamed copies stop at their next chunk.
    """

    def __init__(
        self,
        ends: Endpoints,
        *,
        on_bytes: BytesCallback | None,
        on_warning: Callable[[str], None] | None = None,
        cancel: threading.Event,
    ) -> None:
        self._ends = ends
        self._on_bytes = on_bytes
        self._on_warning = on_warning
        self._cancel = cancel
        # Some backends make a write conditional only when it is one request (SeaweedFS's
        # CompleteMultipartUpload and fake-gcs-server's resumable uploads check nothing
        # atomically); they refuse conditional streams, and a head check stands in for the
        # rest of the run.
        self._streamed_conditions = True
        self._warned = threading.Lock()
        caps = ends.dst.capabilities
        self._if_none_match = caps.write_with_if_none_match
        self._if_match = caps.write_with_if_match
        root = ends.root
        self._server_side = ends.across or (
            root is not None and root.capabilities.copy_with_if_none_match
        )

    def __call__(self, row: JournalRow) -> CopyOutcome:
        """Copy one row's object and return its new row; raise only fatal errors.

        A failure that another attempt will probably not meet (a damaged read, a write whose
        outcome stayed unknown and was not ours) is tried once more at once, so that a run
        under transient faults finishes without a resume.
        """
        outcome = self._attempt(row)
        if outcome.retry and not self._cancel.is_set():
            outcome = replace(self._attempt(row), retry=False)
        return outcome

    def _attempt(self, row: JournalRow) -> CopyOutcome:
        try:
            if self._server_side and row.action is Action.COPY:
                return self._copy_in_service(row)
            return self._stream(row)
        except FATAL_ERRORS:
            raise
        except PortaCloudError as exc:
            return CopyOutcome(
                replace(row, state=ObjectState.FAILED, error=str(exc)), retry=exc.retryable
            )

    # ------------------------------------------------------------------ conditions

    def _conditions(self, row: JournalRow, *, atomic: bool) -> dict[str, Any]:
        """The write's condition on the destination version the plan saw.

        Without ``atomic`` (or the capability), the destination is checked with a head right
        before the write instead, which a concurrent writer can race.
        """
        dst = self._ends.dst
        if row.dst_etag_planned is None:
            if self._if_none_match and atomic:
                return {"if_none_match": "*"}
            if dst.exists(row.key):
                raise _ConflictError("the destination object appeared after the plan")
            return {}
        if self._if_match and atomic:
            return {"if_match": row.dst_etag_planned}
        try:
            current = dst.head(row.key).etag
        except NotFoundError:
            raise _ConflictError("the destination object was deleted after the plan") from None
        if current != row.dst_etag_planned:
            raise _ConflictError(f"the destination object changed after the plan (etag {current})")
        return {}

    def _settle(
        self, row: JournalRow, read: _Read | None, why: str, *, retry: bool = False
    ) -> CopyOutcome:
        """The destination is not what the write expected, or the write's answer was lost:
        a head says whether it holds these very bytes (then the copy is done), else it fails.

        Args:
            row: The row being copied.
            read: What was read and written, if it is known.
            why: The failure, for the row when the destination does not hold the bytes.
            retry: Whether another attempt may succeed then (a lost answer: the next write is
                conditional again, so it cannot overwrite anyone).
        """
        try:
            current = self._ends.dst.head(row.key)
        except NotFoundError:
            current = None
        except FATAL_ERRORS:
            raise
        except PortaCloudError as exc:
            return CopyOutcome(
                replace(row, state=ObjectState.FAILED, error=f"{why}; then: {exc}"), retry=retry
            )
        if (
            read is not None
            and read.crc32c is not None
            and current is not None
            and current.size == read.size
            and current.crc32c == read.crc32c
        ):
            # This write landed after all, or another run (or a killed one whose journal row
            # was lost) wrote the same bytes.
            return CopyOutcome(
                replace(
                    row,
                    state=ObjectState.COPIED,
                    size=read.size,
                    src_crc32c=read.crc32c if read.trusted else row.src_crc32c,
                    dst_etag=current.etag,
                    dst_crc32c=current.crc32c,
                    copies=row.copies + 1,
                    error=None,
                ),
                written=read.size,
            )
        return CopyOutcome(replace(row, state=ObjectState.FAILED, error=why), retry=retry)

    def _on_conflict(self, row: JournalRow, read: _Read | None, why: str) -> CopyOutcome:
        """The destination moved: accept it if it holds these very bytes, else leave it be."""
        outcome = self._settle(row, read, f"{why}; it was not overwritten (rerun to plan it again)")
        if outcome.row.state is ObjectState.COPIED:
            # Not this run's write: nothing was written, and it is no new copy.
            return replace(outcome, row=replace(outcome.row, copies=row.copies), written=0)
        return outcome

    def _lost_answer(
        self, row: JournalRow, read: _Read | None, exc: PortaCloudError, *, reported: int = 0
    ) -> CopyOutcome:
        """A write whose outcome is unknown: settle it with a head of the destination.

        ``read`` is ``None`` when the source was not read to the end: then nothing was
        committed, and a new attempt is as safe as the first.
        """
        if read is None:
            failed = replace(row, state=ObjectState.FAILED, error=str(exc))
            return CopyOutcome(failed, reported=reported, retry=True)
        return replace(self._settle(row, read, str(exc), retry=True), reported=reported)

    # ------------------------------------------------------------------ copies

    def _stream(self, row: JournalRow) -> CopyOutcome:
        outcome = self._stream_once(row)
        if outcome is None:  # the destination refused a conditional stream: once more, checked
            outcome = self._stream_once(row)
        if outcome is None:
            raise AssertionError("a streamed copy without conditions cannot be refused for them")
        return outcome

    def _stream_once(self, row: JournalRow) -> CopyOutcome | None:
        src, key = self._ends.src, row.key
        try:
            reader = src.open(key)
        except NotFoundError:
            return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
        with reader:
            # The copy hashes each byte once, for both the check of the source and the record
            # of the destination (storage/hashed.py).
            take_over_check(reader)
            info = opened_info(reader) or src.head(key)
            replanned = info.etag != row.src_etag
            if replanned:
                # The source changed after the plan: pin the version that is open now. Bytes
                # come from this one reader only, so the copy is wholly this version.
                row = replace(row, src_etag=info.etag, size=info.size, src_crc32c=info.crc32c)
            atomic = info.size <= SMALL_OBJECT or self._streamed_conditions
            try:
                conditions = self._conditions(row, atomic=atomic)
            except _ConflictError as conflict:
                recorded = info.crc32c
                return self._on_conflict(
                    row,
                    _Read(recorded, info.size, trusted=True) if recorded else None,
                    str(conflict),
                )
            options: dict[str, Any] = {
                "content_type": info.content_type,
                "metadata": dict(info.metadata) or None,
                **conditions,
            }
            opened = _Opened(row, reader, info, options, replanned)
            if info.size <= SMALL_OBJECT:
                return self._put_small(opened)
            return self._put_streamed(opened)

    def _vouchers(self, row: JournalRow, info: ObjectInfo) -> tuple[str | None, str | None]:
        """What the bytes about to be read can be checked against besides themselves.

        Returns:
            A CRC32C an earlier read established that the reader will not check (``None``
            when the source records one: the copy's check covers that), and the source's
            native MD5, when only that can vouch for the bytes.
        """
        if info.crc32c is not None:
            return None, None
        if row.src_crc32c is not None:
            return row.src_crc32c, None
        return None, native_md5(self._ends.src.capabilities, info)

    def _check(self, row: JournalRow, info: ObjectInfo) -> ReadCheck:
        """What the bytes read must pass before they are written (see :func:`read_check`)."""
        expected, _ = self._vouchers(row, info)
        return read_check(info, expected=expected, provider=self._ends.src.provider)

    def _put_small(self, opened: _Opened) -> CopyOutcome:
        row, info, options, replanned = opened.row, opened.info, opened.options, opened.replanned
        try:
            # One hash of these very bytes: the check of the source, then the destination's
            # record. Checked before writing: damaged bytes must not reach the destination.
            body = HashedBytes(read_all(opened.reader, info.size))
            self._check(row, info)(body.crc32c)
        except ChecksumMismatchError as exc:
            return self._source_changed_mid_read(row, exc)
        expected, md5 = self._vouchers(row, info)
        trusted = info.crc32c is not None or expected is not None
        if not trusted and md5 is not None:
            trusted = hashlib.md5(body.data, usedforsecurity=False).hexdigest() == md5
        read = _Read(body.crc32c, len(body.data), trusted)
        try:
            written = self._ends.dst.put(row.key, body, **options)
        except (FailedPreconditionError, NotFoundError) as exc:
            return self._on_conflict(row, read, _why(exc))
        except _UNKNOWN_OUTCOME as exc:
            return self._lost_answer(row, read, exc)
        return self._copied(row, written=written, read=read, reported=0, replanned=replanned)

    def _put_streamed(self, opened: _Opened) -> CopyOutcome | None:
        row, info, options, replanned = opened.row, opened.info, opened.options, opened.replanned
        expected, md5 = self._vouchers(row, info)
        meter = Meter(
            opened.reader,
            key=row.key,
            check=self._check(row, info),
            md5=md5 is not None,
            on_bytes=self._on_bytes,
            cancel=self._cancel,
        )
        conditional = "if_none_match" in options or "if_match" in options

        def complete() -> bool:
            # Read to EOF, where the meter checked the bytes: only then may they vouch.
            return meter.at_eof and meter.count == info.size

        def read() -> _Read:
            trusted = info.crc32c is not None or expected is not None
            return _Read(
                meter.crc32c(), meter.count, trusted or (md5 is not None and meter.md5() == md5)
            )

        try:
            written = self._ends.dst.put(row.key, meter, **options)
        except UnsupportedError as exc:
            # Only a refusal of the condition itself is worth a second try without it; any
            # other unsupported option would be refused again.
            if not conditional or meter.source_error is exc or "condition" not in exc.message:
                raise
            self._refuse_streamed_conditions(exc)
            return None
        except (FailedPreconditionError, NotFoundError) as exc:
            if meter.source_error is exc:
                return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
            return replace(
                self._on_conflict(row, read() if complete() else None, _why(exc)),
                reported=meter.count,
            )
        except _UNKNOWN_OUTCOME as exc:
            if meter.source_error is exc:
                if isinstance(exc, ChecksumMismatchError):
                    return self._source_changed_mid_read(row, exc)
                raise
            return self._lost_answer(row, read() if complete() else None, exc, reported=meter.count)
        return self._copied(
            row, written=written, read=read(), reported=meter.count, replanned=replanned
        )

    def _copy_in_service(self, row: JournalRow) -> CopyOutcome:
        ends = self._ends
        # Errors name the source key as the bucket that copies sees it.
        src_key = row.key if ends.root is None else ends.src_prefix + row.key
        try:
            if ends.root is None:  # two buckets that one set of credentials reaches
                written = copy_between(ends.src, ends.dst, row.key, row.key, if_none_match="*")
            else:
                written = ends.root.copy(src_key, ends.dst_prefix + row.key, if_none_match="*")
        except NotFoundError as exc:
            if exc.resource == src_key:
                return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
            raise
        except FailedPreconditionError as exc:
            known = row.src_crc32c
            return self._on_conflict(
                row, _Read(known, row.size, trusted=True) if known else None, _why(exc)
            )
        # A service-side copy takes whatever version is current: compare it with the pinned
        # one. Listings without checksums (S3) need a head of the source for that.
        source_crc = row.src_crc32c
        if source_crc is None:
            try:
                current = self._ends.src.head(row.key)
            except NotFoundError:
                current = None
            if current is not None and current.etag == row.src_etag:
                source_crc = current.crc32c
        if written.size != row.size or (
            source_crc is not None and written.crc32c not in (None, source_crc)
        ):
            return self._copied_newer_version(row, written)
        # The service moved the bytes: no read of ours to doubt, and only a recorded source
        # checksum to trust (else verification reads both sides).
        return self._copied(
            replace(row, src_crc32c=source_crc),
            written=written,
            read=_Read(source_crc, row.size, trusted=source_crc is not None),
            reported=0,
            replanned=False,
            in_service=True,
        )

    def _copied_newer_version(self, row: JournalRow, written: ObjectInfo) -> CopyOutcome:
        """The service copied a newer version than the plan pinned: plan the key again,
        conditional on what the copy left at the destination."""
        try:
            current = self._ends.src.head(row.key)
        except NotFoundError:
            return CopyOutcome(replace(row, state=ObjectState.GONE, copies=row.copies + 1))
        return CopyOutcome(
            replace(
                row.repinned(current.size, current.etag, current.crc32c),
                action=Action.OVERWRITE,
                dst_etag_planned=written.etag,
                dst_crc32c=written.crc32c,
                copies=row.copies + 1,
            ),
            replanned=True,
        )

    def _refuse_streamed_conditions(self, exc: UnsupportedError) -> None:
        self._streamed_conditions = False
        if self._on_warning is not None and self._warned.acquire(blocking=False):
            self._on_warning(
                f"the destination refuses conditional writes of large streamed objects "
                f"({exc.message}); a head check before each such write stands in for the "
                "condition, so a concurrent writer could be overwritten"
            )

    # ------------------------------------------------------------------ outcomes

    def _copied(
        self,
        row: JournalRow,
        *,
        written: ObjectInfo,
        read: _Read,
        reported: int,
        replanned: bool,
        in_service: bool = False,
    ) -> CopyOutcome:
        crc = read.crc32c
        if crc is not None and row.src_crc32c is not None and row.src_crc32c != crc:
            # The read was checked against the opened version's CRC32C, so this means the plan's
            # checksum and the version's bytes disagree under one etag: trust neither.
            return CopyOutcome(
                replace(
                    row,
                    state=ObjectState.FAILED,
                    error=f"the source's bytes have CRC32C {crc} but its listing said "
                    f"{row.src_crc32c} for the same version",
                    copies=row.copies + 1,
                ),
                written=read.size,
                reported=reported,
            )
        new = replace(
            row,
            state=ObjectState.COPIED,
            size=read.size,
            # Only a checksum something else vouches for is the source's; without one,
            # verification reads the source again (see the module docstring).
            src_crc32c=crc if read.trusted else None,
            dst_etag=written.etag,
            dst_crc32c=written.crc32c,
            copies=row.copies + 1,
            error=None,
        )
        return CopyOutcome(
            new, written=0 if in_service else read.size, reported=reported, replanned=replanned
        )

    def _source_changed_mid_read(self, row: JournalRow, exc: ChecksumMismatchError) -> CopyOutcome:
        """Bytes and checksum disagreed while reading: a new version, or corruption."""
        try:
            current = self._ends.src.head(row.key)
        except NotFoundError:
            return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
        if current.etag != row.src_etag:
            repinned = row.repinned(current.size, current.etag, current.crc32c)
            return CopyOutcome(repinned, replanned=True)
        # The same version: damaged in transit. Nothing was written, and a new read usually
        # gets good bytes.
        return CopyOutcome(replace(row, state=ObjectState.FAILED, error=str(exc)), retry=True)


def _why(exc: PortaCloudError) -> str:
    return f"the destination object changed after the plan ({exc.message})"

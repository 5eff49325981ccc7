"""The copy phase: move one planned object, streaming, pinned and conditional.

Each call copies exactly the source version the plan pinned, or notices that the source
changed and copies the version it opened instead (re-planning that key, never mixing
versions: one open reader is one version, and its CRC32C is checked at the end). Every write is
conditional on the destination version the plan saw, so an object that someone else wrote
after the plan is never replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from portacloud.checksums import crc32c_hex
from portacloud.errors import (
    ChecksumMismatchError,
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    UnauthenticatedError,
    UnsupportedError,
)
from portacloud.migrate.endpoints import Endpoints
from portacloud.migrate.journal import JournalRow
from portacloud.migrate.models import Action, ObjectState
from portacloud.migrate.reading import (
    BytesCallback,
    Meter,
    opened_info,
    read_all,
    same_version,
)
from portacloud.storage.models import ObjectInfo

__all__ = ["FATAL_ERRORS", "SMALL_OBJECT", "Copier", "CopyOutcome"]

#: Objects up to this size are read into memory and written as bytes, which the portable
#: layer can retry as a whole; larger ones are streamed (memory: concurrency x this, at most).
SMALL_OBJECT = 8 * 1024 * 1024

#: Errors that no other object will escape either: the run stops at the first one.
FATAL_ERRORS = (PermissionDeniedError, UnauthenticatedError)


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    """What became of one planned copy.

    Attributes:
        row: The row to record in the journal.
        written: Bytes written to the destination by this attempt.
        reported: Of those, bytes already reported through the bytes callback.
        replanned: The source had changed since the plan (or during the copy).
    """

    row: JournalRow
    written: int = 0
    reported: int = 0
    replanned: bool = False


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
        self._server_side = root is not None and root.capabilities.copy_with_if_none_match

    def __call__(self, row: JournalRow) -> CopyOutcome:
        """Copy one row's object and return its new row; raise only fatal errors."""
        try:
            if self._server_side and row.action is Action.COPY:
                return self._copy_in_service(row)
            return self._stream(row)
        except FATAL_ERRORS:
            raise
        except PortaCloudError as exc:
            return CopyOutcome(replace(row, state=ObjectState.FAILED, error=str(exc)))

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
        if not same_version(current, row.dst_etag_planned):
            raise _ConflictError(f"the destination object changed after the plan (etag {current})")
        return {}

    def _on_conflict(self, row: JournalRow, crc: str | None, size: int, why: str) -> CopyOutcome:
        """The destination moved: accept it if it holds these very bytes, else leave it be."""
        try:
            current = self._ends.dst.head(row.key)
        except NotFoundError:
            current = None
        if (
            crc is not None
            and current is not None
            and current.size == size
            and current.crc32c == crc
        ):
            # Another run (or a killed one whose journal row was lost) wrote the same bytes.
            return CopyOutcome(
                replace(
                    row,
                    state=ObjectState.COPIED,
                    src_crc32c=crc,
                    dst_etag=current.etag,
                    dst_crc32c=current.crc32c,
                    error=None,
                )
            )
        return CopyOutcome(
            replace(
                row,
                state=ObjectState.FAILED,
                error=f"{why}; it was not overwritten (rerun to plan it again)",
            )
        )

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
            info = opened_info(reader) or src.head(key)
            replanned = not same_version(info.etag, row.src_etag)
            if replanned:
                # The source changed after the plan: pin the version that is open now. Bytes
                # come from this one reader only, so the copy is wholly this version.
                row = replace(row, src_etag=info.etag, size=info.size, src_crc32c=info.crc32c)
            atomic = info.size <= SMALL_OBJECT or self._streamed_conditions
            try:
                conditions = self._conditions(row, atomic=atomic)
            except _ConflictError as conflict:
                return self._on_conflict(row, info.crc32c, info.size, str(conflict))
            options: dict[str, Any] = {
                "content_type": info.content_type,
                "metadata": dict(info.metadata) or None,
                **conditions,
            }
            if info.size <= SMALL_OBJECT:
                return self._put_small(row, reader, info, options, replanned)
            return self._put_streamed(row, reader, info, options, replanned)

    def _put_small(
        self,
        row: JournalRow,
        reader: Any,
        info: ObjectInfo,
        options: dict[str, Any],
        replanned: bool,
    ) -> CopyOutcome:
        try:
            data = read_all(reader, info.size)
        except ChecksumMismatchError as exc:
            return self._source_changed_mid_read(row, exc)
        # The reader checked the bytes against the recorded CRC32C at EOF; hash only objects
        # that record none.
        crc = info.crc32c or crc32c_hex(data)
        try:
            written = self._ends.dst.put(row.key, data, **options)
        except (FailedPreconditionError, NotFoundError) as exc:
            return self._on_conflict(row, crc, len(data), _why(exc))
        return self._copied(
            row, written=written, crc=crc, size=len(data), reported=0, replanned=replanned
        )

    def _put_streamed(
        self,
        row: JournalRow,
        reader: Any,
        info: ObjectInfo,
        options: dict[str, Any],
        replanned: bool,
    ) -> CopyOutcome | None:
        meter = Meter(
            reader,
            key=row.key,
            expected_crc32c=info.crc32c,
            on_bytes=self._on_bytes,
            cancel=self._cancel,
        )
        conditional = "if_none_match" in options or "if_match" in options
        try:
            written = self._ends.dst.put(row.key, meter, **options)
        except UnsupportedError as exc:
            # Only a refusal of the condition itself is worth a second try without it; any
            # other unsupported option would be refused again.
            if not conditional or meter.source_error is exc or "condition" not in exc.message:
                raise
            self._refuse_streamed_conditions(exc)
            return None
        except ChecksumMismatchError as exc:
            if meter.source_error is exc:
                return self._source_changed_mid_read(row, exc)
            raise
        except (FailedPreconditionError, NotFoundError) as exc:
            if meter.source_error is exc:
                return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
            return self._on_conflict(row, meter.crc32c(), meter.count, _why(exc))
        return self._copied(
            row,
            written=written,
            crc=meter.crc32c(),
            size=meter.count,
            reported=meter.count,
            replanned=replanned,
        )

    def _copy_in_service(self, row: JournalRow) -> CopyOutcome:
        root = self._ends.root
        assert root is not None
        src_key = self._ends.src_prefix + row.key
        dst_key = self._ends.dst_prefix + row.key
        try:
            written = root.copy(src_key, dst_key, if_none_match="*")
        except NotFoundError as exc:
            if exc.resource == src_key:
                return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
            raise
        except FailedPreconditionError as exc:
            return self._on_conflict(row, row.src_crc32c, row.size, _why(exc))
        # A service-side copy takes whatever version is current: compare it with the pinned
        # one. Listings without checksums (S3) need a head of the source for that.
        source_crc = row.src_crc32c
        if source_crc is None:
            try:
                current = self._ends.src.head(row.key)
            except NotFoundError:
                current = None
            if current is not None and same_version(current.etag, row.src_etag):
                source_crc = current.crc32c
        if written.size != row.size or (
            source_crc is not None and written.crc32c not in (None, source_crc)
        ):
            return self._copied_newer_version(row, written)
        return self._copied(
            replace(row, src_crc32c=source_crc),
            written=written,
            crc=source_crc,
            size=row.size,
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
                row,
                action=Action.OVERWRITE,
                state=ObjectState.PENDING,
                size=current.size,
                src_etag=current.etag,
                src_crc32c=current.crc32c,
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
        crc: str | None,
        size: int,
        reported: int,
        replanned: bool,
        in_service: bool = False,
    ) -> CopyOutcome:
        if crc is not None and row.src_crc32c is not None and row.src_crc32c != crc:
            # The reader checks the opened version's CRC32C at EOF, so this means the plan's
            # checksum and the version's bytes disagree under one etag: trust neither.
            return CopyOutcome(
                replace(
                    row,
                    state=ObjectState.FAILED,
                    error=f"the source's bytes have CRC32C {crc} but its listing said "
                    f"{row.src_crc32c} for the same version",
                    copies=row.copies + 1,
                ),
                written=size,
                reported=reported,
            )
        new = replace(
            row,
            state=ObjectState.COPIED,
            size=size,
            src_crc32c=crc,
            dst_etag=written.etag,
            dst_crc32c=written.crc32c,
            copies=row.copies + 1,
            error=None,
        )
        return CopyOutcome(
            new, written=0 if in_service else size, reported=reported, replanned=replanned
        )

    def _source_changed_mid_read(self, row: JournalRow, exc: ChecksumMismatchError) -> CopyOutcome:
        """Bytes and checksum disagreed while reading: a new version, or corruption."""
        try:
            current = self._ends.src.head(row.key)
        except NotFoundError:
            return CopyOutcome(replace(row, state=ObjectState.GONE, error=None))
        if not same_version(current.etag, row.src_etag):
            return CopyOutcome(
                replace(
                    row,
                    state=ObjectState.PENDING,
                    size=current.size,
                    src_etag=current.etag,
                    src_crc32c=current.crc32c,
                ),
                replanned=True,
            )
        return CopyOutcome(replace(row, state=ObjectState.FAILED, error=str(exc)))


def _why(exc: PortaCloudError) -> str:
    return f"the destination object changed after the plan ({exc.message})"

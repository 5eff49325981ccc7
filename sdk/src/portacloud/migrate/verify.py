"""Verification: the CRC32C of every object's bytes, source against destination.

Multipart ETags are never compared: they depend on part sizes, not on bytes. What is compared
is the portable CRC32C that every object carries (or that is computed by reading its bytes
when it carries none, or when a deep check distrusts what the destination recorded).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from portacloud.errors import InvalidArgumentError, NotFoundError, PortaCloudError
from portacloud.migrate.copy import FATAL_ERRORS
from portacloud.migrate.endpoints import Endpoints
from portacloud.migrate.journal import Journal, JournalRow, Listed
from portacloud.migrate.models import (
    Action,
    MigrationEvent,
    Mismatch,
    ObjectState,
    Phase,
    VerifyResult,
)
from portacloud.migrate.plan import objects_of
from portacloud.migrate.reading import StreamedChecksum, checksum_of, read_crc32c
from portacloud.migrate.receipt import ReceiptLine, file_sha256, read_receipt
from portacloud.storage.bucket import Bucket

__all__ = [
    "JournalCheck",
    "bounded_map",
    "crc_mismatch_message",
    "verify_buckets",
    "verify_journal",
]

EventSink = Callable[[MigrationEvent], None]
_In = TypeVar("_In")
_Out = TypeVar("_Out")


def bounded_map(
    pool: ThreadPoolExecutor,
    fn: Callable[[_In], _Out],
    items: Iterator[_In],
    *,
    window: int,
) -> Iterator[tuple[_In, _Out]]:
    """Run ``fn`` over ``items`` with at most ``window`` in flight; yield as they finish.

    Unlike ``Executor.map`` this never submits the whole iterator up front, so memory stays
    bounded for millions of keys, and results come back as soon as they are ready. Finished
    futures arrive through a queue, so each result costs the same whatever the window
    (``concurrent.futures.wait`` would watch every future in flight for each one).
    """
    finished: queue.SimpleQueue[Future[_Out]] = queue.SimpleQueue()
    inflight: dict[Future[_Out], _In] = {}
    try:
        for item in items:
            while len(inflight) >= window:
                future = finished.get()
                yield inflight.pop(future), future.result()
            future = pool.submit(fn, item)
            inflight[future] = item
            future.add_done_callback(finished.put)
        while inflight:
            future = finished.get()
            yield inflight.pop(future), future.result()
    finally:
        for future in inflight:
            future.cancel()


def crc_mismatch_message(key: str, src_crc: str | None, dst_crc: str | None) -> str:
    """The one line that names a key and both of its checksums."""
    return (
        f"{key!r}: source CRC32C {src_crc or 'unknown'}, destination CRC32C {dst_crc or 'unknown'}"
    )


# ---------------------------------------------------------------------- inside a migration


@dataclass(slots=True)
class JournalCheck:
    """Counts of one verification pass over a migration's journal."""

    verified: int = 0
    replanned: int = 0
    failed: int = 0
    gone: int = 0


def _check_row(row: JournalRow, src: Listed | None, dst: Listed | None) -> JournalRow | None:
    """Judge one row against fresh listings; ``None`` when the destination bytes must be read."""
    if src is None:
        return replace(row, state=ObjectState.GONE, error=None)
    if src.etag != row.src_etag or dst is None:
        # The source changed after it was copied (or the copy vanished): plan it again,
        # conditional on whatever the destination holds now.
        return replace(
            row,
            action=Action.COPY if dst is None else Action.OVERWRITE,
            state=ObjectState.PENDING,
            size=src.size,
            src_etag=src.etag,
            src_crc32c=src.crc32c,
            dst_etag_planned=None if dst is None else dst.etag,
            dst_etag=None,
            dst_crc32c=None if dst is None else dst.crc32c,
            error=None,
        )
    if dst.size != row.size:
        return replace(
            row,
            state=ObjectState.FAILED,
            error=f"{row.key!r}: the source has {row.size} bytes, the destination {dst.size}",
        )
    if dst.crc32c is None or row.src_crc32c is None:
        return None
    return _judge(row, dst.etag, dst.crc32c)


def _judge(row: JournalRow, dst_etag: str, dst_crc: str) -> JournalRow:
    if dst_crc == row.src_crc32c:
        return replace(
            row, state=ObjectState.VERIFIED, dst_etag=dst_etag, dst_crc32c=dst_crc, error=None
        )
    return replace(
        row,
        state=ObjectState.FAILED,
        dst_etag=dst_etag,
        dst_crc32c=dst_crc,
        error=crc_mismatch_message(row.key, row.src_crc32c, dst_crc),
    )


def verify_journal(
    ends: Endpoints,
    journal: Journal,
    *,
    concurrency: int,
    on_event: EventSink,
    second_chances: set[str] | None = None,
) -> JournalCheck:
    """Verify every copied or skipped row against fresh listings of both sides.

    Rows whose source changed are set back to pending (re-planned); rows whose destination
    checksum differs fail with a message naming both checksums.

    Rows with no source checksum (objects written by other tools, whose copy had nothing but
    its own read to go by) are checked against a second, independent read of the source. When
    the two disagree, either read may have been damaged on the way: the key is copied again,
    once per run (``second_chances`` holds the keys that had theirs), before it fails.
    """
    chances = set() if second_chances is None else second_chances
    journal.load_listing("src", objects_of(ends.src))
    journal.load_listing("dst", objects_of(ends.dst))
    counts = JournalCheck()
    confirmed, confirmed_bytes = journal.confirm_from_listings()
    counts.verified += confirmed
    if confirmed:
        on_event(
            MigrationEvent(
                kind="object",
                phase=Phase.VERIFY,
                state=ObjectState.VERIFIED,
                objects=confirmed,
                bytes=confirmed_bytes,
            )
        )
    # What the listings could not prove one way or the other, row by row.
    rows = journal.rows(
        states=[ObjectState.COPIED, ObjectState.VERIFIED],
        actions=[Action.COPY, Action.OVERWRITE, Action.SKIP],
        unconfirmed=True,
    )
    needs_bytes: list[tuple[JournalRow, Listed | None]] = []

    def record(new: JournalRow) -> None:
        journal.put(new)
        if new.state is ObjectState.VERIFIED:
            counts.verified += 1
        elif new.state is ObjectState.PENDING:
            counts.replanned += 1
            on_event(MigrationEvent(kind="replanned", phase=Phase.VERIFY, key=new.key))
        elif new.state is ObjectState.GONE:
            counts.gone += 1
        elif new.state is ObjectState.FAILED:
            counts.failed += 1
            on_event(
                MigrationEvent(kind="failed", phase=Phase.VERIFY, key=new.key, message=new.error)
            )
        on_event(
            MigrationEvent(
                kind="object",
                phase=Phase.VERIFY,
                key=new.key,
                action=new.action,
                state=new.state,
                bytes=new.size,
            )
        )

    for row in rows:
        src, dst = journal.listed("src", row.key), journal.listed("dst", row.key)
        judged = _check_row(row, src, dst)
        if judged is None:
            needs_bytes.append((row, dst))
        elif judged != row or row.state is not ObjectState.VERIFIED:
            record(judged)
        else:
            counts.verified += 1
            on_event(
                MigrationEvent(
                    kind="object",
                    phase=Phase.VERIFY,
                    key=row.key,
                    action=row.action,
                    state=row.state,
                    bytes=row.size,
                )
            )
        if len(needs_bytes) >= 256:
            _read_and_judge(ends, needs_bytes, concurrency, record, chances)
            needs_bytes = []
    _read_and_judge(ends, needs_bytes, concurrency, record, chances)
    return counts


def _read_and_judge(
    ends: Endpoints,
    items: list[tuple[JournalRow, Listed | None]],
    concurrency: int,
    record: Callable[[JournalRow], None],
    chances: set[str],
) -> None:
    """Find the checksums the listings lacked (head, else bytes), then judge those rows."""
    if not items:
        return

    def work(item: tuple[JournalRow, Listed | None]) -> JournalRow:
        row, dst = item
        try:
            if row.src_crc32c is None:
                # The source records no checksum: read it again, independently of the copy.
                try:
                    source = read_crc32c(ends.src, row.key)
                except NotFoundError:
                    return replace(row, state=ObjectState.GONE, error=None)
                if source.etag != row.src_etag:
                    return _replanned(row, source, dst)
                row = replace(row, src_crc32c=source.crc32c)
            if dst is not None and dst.crc32c is not None:
                return _judge(row, dst.etag, dst.crc32c)
            got = checksum_of(ends.dst, row.key)
        except FATAL_ERRORS:
            raise
        except PortaCloudError as exc:
            return replace(row, state=ObjectState.FAILED, error=str(exc))
        return _judge(row, got.etag, got.crc32c)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="verify") as pool:
        for (before, _), judged in bounded_map(pool, work, iter(items), window=2 * concurrency):
            disagreed = (
                before.src_crc32c is None
                and judged.state is ObjectState.FAILED
                and judged.src_crc32c is not None
            )
            # A second read of the source that disagrees with the copy.
            record(_second_chance(judged, chances) if disagreed else judged)


def _replanned(row: JournalRow, source: StreamedChecksum, dst: Listed | None) -> JournalRow:
    """The source changed after the listing: plan the version that was read."""
    return replace(
        row,
        action=Action.COPY if dst is None else Action.OVERWRITE,
        state=ObjectState.PENDING,
        size=source.size,
        src_etag=source.etag,
        src_crc32c=source.recorded,
        dst_etag_planned=None if dst is None else dst.etag,
        dst_etag=None,
        dst_crc32c=None if dst is None else dst.crc32c,
        error=None,
    )


def _second_chance(failed: JournalRow, chances: set[str]) -> JournalRow:
    """A row whose copy no recorded checksum vouched for disagrees with a second read.

    One read or the other was damaged on the way, and nothing says which, so neither
    checksum is kept. The first time in a run the key is copied again (conditional on the
    destination version just seen); after that it fails.
    """
    if failed.key in chances or failed.dst_crc32c is None or failed.dst_etag is None:
        return replace(failed, src_crc32c=None)
    chances.add(failed.key)
    return replace(
        failed,
        action=Action.OVERWRITE,
        state=ObjectState.PENDING,
        src_crc32c=None,
        dst_etag_planned=failed.dst_etag,
        dst_etag=None,
    )


# ---------------------------------------------------------------------- on its own


@dataclass(slots=True)
class _Tally:
    checked: int = 0
    bytes_read: int = 0


def _compare(  # noqa: PLR0911 - one return per kind of difference
    src: Bucket | None,
    dst: Bucket,
    expected: Listed,
    found: Listed | None,
    *,
    deep: bool,
) -> tuple[Mismatch | None, int]:
    """Compare one expected object with the destination; return a mismatch and bytes read."""
    key = expected.key
    if found is None:
        return (
            Mismatch(
                key=key,
                reason="missing",
                src_crc32c=expected.crc32c,
                src_size=expected.size,
                message=f"{key!r} is missing at the destination",
            ),
            0,
        )
    if found.size != expected.size:
        return (
            Mismatch(
                key=key,
                reason="size",
                src_crc32c=expected.crc32c,
                dst_crc32c=found.crc32c,
                src_size=expected.size,
                dst_size=found.size,
                message=f"{key!r}: the source has {expected.size} bytes, the destination "
                f"{found.size}",
            ),
            0,
        )
    read = 0
    src_crc = expected.crc32c
    try:
        if src_crc is None and src is not None:
            streamed = checksum_of(src, key)
            src_crc = streamed.crc32c
            read += 0 if streamed.recorded else streamed.size
        recorded = found.crc32c
        dst_crc = recorded
        if deep:
            got = read_crc32c(dst, key)
            dst_crc, recorded, read = got.crc32c, got.recorded, read + got.size
        elif dst_crc is None:
            got = checksum_of(dst, key)
            dst_crc, recorded = got.crc32c, got.recorded
            read += 0 if got.recorded else got.size
    except FATAL_ERRORS:
        raise
    except NotFoundError:
        return (
            Mismatch(
                key=key,
                reason="missing",
                src_crc32c=src_crc,
                src_size=expected.size,
                message=f"{key!r} disappeared while it was being verified",
            ),
            read,
        )
    except PortaCloudError as exc:
        return (
            Mismatch(
                key=key,
                reason="unreadable",
                src_crc32c=src_crc,
                src_size=expected.size,
                dst_size=found.size,
                message=f"{key!r}: {exc}",
            ),
            read,
        )
    base = {
        "key": key,
        "src_crc32c": src_crc,
        "dst_crc32c": dst_crc,
        "src_size": expected.size,
        "dst_size": found.size,
    }
    if dst_crc != src_crc:
        return Mismatch(
            reason="crc32c", message=crc_mismatch_message(key, src_crc, dst_crc), **base
        ), read
    if recorded is not None and recorded != dst_crc:
        return (
            Mismatch(
                reason="recorded-crc32c",
                message=f"{key!r}: the destination's bytes have CRC32C {dst_crc}, but it "
                f"records {recorded}; reads through portacloud will fail",
                **base,
            ),
            read,
        )
    return None, read


def verify_buckets(
    src: Bucket | None,
    dst: Bucket,
    *,
    deep: bool,
    concurrency: int,
    receipt: Path | None = None,
    receipt_sha256: str | None = None,
    on_event: EventSink | None = None,
) -> VerifyResult:
    """Compare a destination with its source, a receipt, or both.

    Args:
        src: The source bucket, or ``None`` to check the receipt only.
        dst: The destination bucket.
        deep: Read and hash every destination object instead of trusting the CRC32C it
            records (source checksums are read only when the source records none).
        concurrency: Objects read at a time.
        receipt: A receipt whose lines must all be at the destination, unchanged.
        receipt_sha256: The SHA-256 the receipt must have.
        on_event: Progress callback.

    Returns:
        Every mismatch found; ``result.ok`` is True when there is none.
    """
    if src is None and receipt is None:
        raise InvalidArgumentError("verify needs a source, a receipt, or both")
    started = time.monotonic()
    sink = on_event or (lambda event: None)
    tally = _Tally()
    mismatches: list[Mismatch] = []
    extra = 0
    receipt_hash: str | None = None
    with Journal(None, src=src.url if src else str(receipt), dst=dst.url) as scratch:
        sink(MigrationEvent(kind="phase", phase=Phase.PLAN))
        count, size = scratch.load_listing("dst", objects_of(dst))
        expected: Iterator[Listed]
        if src is not None:
            count, size = scratch.load_listing("src", objects_of(src))
            expected = (s for s, _, _ in scratch.joined())
            sink(
                MigrationEvent(
                    kind="phase", phase=Phase.VERIFY, objects_total=count, bytes_total=size
                )
            )
            _run_checks(
                src,
                dst,
                scratch=scratch,
                expected=expected,
                deep=deep,
                concurrency=concurrency,
                tally=tally,
                mismatches=mismatches,
                sink=sink,
            )
            extra = sum(1 for _ in scratch.destination_only())
        if receipt is not None:
            receipt_hash = receipt_sha256 or file_sha256(receipt)
            lines = read_receipt(receipt, expected_sha256=receipt_sha256)
            sink(MigrationEvent(kind="phase", phase=Phase.RECEIPT))
            # The source was compared above; against a receipt, the recorded checksums are
            # what the auditor fingerprinted, so a deep check reads the destination again.
            _run_checks(
                None,
                dst,
                scratch=scratch,
                expected=(_as_listed(line) for line in lines),
                deep=deep,
                concurrency=concurrency,
                tally=tally,
                mismatches=mismatches,
                sink=sink,
                etags=True,
            )
    mismatches.sort(key=lambda m: m.key)
    return VerifyResult(
        src=src.url if src else "",
        dst=dst.url,
        checked=tally.checked,
        bytes_read=tally.bytes_read,
        extra=extra,
        deep=deep,
        mismatches=tuple(mismatches),
        receipt=None if receipt is None else str(receipt),
        receipt_sha256=receipt_hash,
        elapsed_s=time.monotonic() - started,
    )


def _as_listed(line: ReceiptLine) -> Listed:
    return Listed(line.key, line.size, line.dst_etag, line.crc32c)


def _run_checks(
    src: Bucket | None,
    dst: Bucket,
    *,
    scratch: Journal,
    expected: Iterator[Listed],
    deep: bool,
    concurrency: int,
    tally: _Tally,
    mismatches: list[Mismatch],
    sink: EventSink,
    etags: bool = False,
) -> None:
    cancel = threading.Event()

    def work(item: tuple[Listed, Listed | None]) -> tuple[Mismatch | None, int]:
        if cancel.is_set():
            return None, 0
        return _compare(src, dst, item[0], item[1], deep=deep)

    def pairs() -> Iterator[tuple[Listed, Listed | None]]:
        for want in expected:
            yield want, scratch.listed("dst", want.key)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="verify") as pool:
        try:
            for (want, found), (compared, read) in bounded_map(
                pool, work, pairs(), window=2 * concurrency
            ):
                tally.checked += 1
                tally.bytes_read += read
                mismatch = compared
                if mismatch is None and etags and found is not None and found.etag != want.etag:
                    mismatch = Mismatch(
                        key=want.key,
                        reason="version",
                        src_crc32c=want.crc32c,
                        dst_crc32c=found.crc32c,
                        src_size=want.size,
                        dst_size=found.size,
                        message=f"{want.key!r}: the destination is version {found.etag}, the "
                        f"receipt says {want.etag} (same bytes, rewritten since)",
                    )
                if mismatch is not None:
                    mismatches.append(mismatch)
                    sink(
                        MigrationEvent(
                            kind="failed",
                            phase=Phase.VERIFY,
                            key=want.key,
                            message=mismatch.message,
                        )
                    )
                sink(
                    MigrationEvent(kind="object", phase=Phase.VERIFY, key=want.key, bytes=want.size)
                )
        except BaseException:
            cancel.set()
            raise

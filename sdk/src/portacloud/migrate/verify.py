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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from portacloud.errors import InvalidArgumentError, NotFoundError, PortaCloudError
from portacloud.migrate.copy import FATAL_ERRORS
from portacloud.migrate.endpoints import Endpoints
from portacloud.migrate.events import EventSink, failed, object_done, phase_started
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
from portacloud.migrate.reading import checksum_of, read_crc32c
from portacloud.migrate.receipt import ReceiptLine, file_sha256, read_receipt
from portacloud.storage.bucket import Bucket

__all__ = [
    "JournalCheck",
    "bounded_map",
    "crc_mismatch_message",
    "verify_buckets",
    "verify_journal",
]

#: Rows whose checksums must be read are gathered into groups of this many.
_READ_BATCH = 256
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
        return row.replanned(src.size, src.etag, src.crc32c, dst=dst)
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
    journal.load_listing("src", objects_of(ends.src, ends.key_range))
    journal.load_listing("dst", objects_of(ends.dst, ends.key_range))
    verifier = _JournalVerifier(ends, journal, concurrency, on_event, chances)
    verifier.confirm_listed()
    verifier.check_the_rest()
    return verifier.counts


@dataclass(slots=True)
class _JournalVerifier:
    """One verification pass over a journal; :attr:`counts` holds what it found."""

    ends: Endpoints
    journal: Journal
    concurrency: int
    emit: EventSink
    chances: set[str]
    counts: JournalCheck = field(default_factory=JournalCheck)

    def confirm_listed(self) -> None:
        """Verify in bulk the rows the listings alone prove."""
        confirmed, confirmed_bytes = self.journal.confirm_from_listings()
        self.counts.verified += confirmed
        if confirmed:
            self.emit(
                MigrationEvent(
                    kind="object",
                    phase=Phase.VERIFY,
                    state=ObjectState.VERIFIED,
                    objects=confirmed,
                    bytes=confirmed_bytes,
                )
            )

    def check_the_rest(self) -> None:
        """Judge, row by row, what the listings could not prove one way or the other."""
        rows = self.journal.rows(
            states=[ObjectState.COPIED, ObjectState.VERIFIED],
            actions=[Action.COPY, Action.OVERWRITE, Action.SKIP],
            unconfirmed=True,
        )
        needs_bytes: list[tuple[JournalRow, Listed | None]] = []
        for row in rows:
            dst = self.journal.listed("dst", row.key)
            judged = _check_row(row, self.journal.listed("src", row.key), dst)
            if judged is None:
                needs_bytes.append((row, dst))
            elif judged != row or row.state is not ObjectState.VERIFIED:
                self.record(judged)
            else:
                self.counts.verified += 1
                self.emit(object_done(Phase.VERIFY, row))
            if len(needs_bytes) >= _READ_BATCH:
                self.read_and_judge(needs_bytes)
                needs_bytes = []
        self.read_and_judge(needs_bytes)

    def record(self, new: JournalRow) -> None:
        """Write a judged row to the journal, count it and report it."""
        self.journal.put(new)
        if new.state is ObjectState.VERIFIED:
            self.counts.verified += 1
        elif new.state is ObjectState.PENDING:
            self.counts.replanned += 1
            self.emit(MigrationEvent(kind="replanned", phase=Phase.VERIFY, key=new.key))
        elif new.state is ObjectState.GONE:
            self.counts.gone += 1
        elif new.state is ObjectState.FAILED:
            self.counts.failed += 1
            self.emit(failed(Phase.VERIFY, new.key, new.error))
        self.emit(object_done(Phase.VERIFY, new))

    def read_and_judge(self, items: list[tuple[JournalRow, Listed | None]]) -> None:
        """Find the checksums the listings lacked (head, else bytes), then judge those rows."""
        if not items:
            return
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="verify") as pool:
            for (before, _), judged in bounded_map(
                pool, self.read_one, iter(items), window=2 * self.concurrency
            ):
                disagreed = (
                    before.src_crc32c is None
                    and judged.state is ObjectState.FAILED
                    and judged.src_crc32c is not None
                )
                # A second read of the source that disagrees with the copy.
                self.record(_second_chance(judged, self.chances) if disagreed else judged)

    def read_one(self, item: tuple[JournalRow, Listed | None]) -> JournalRow:
        """Judge one row from what a head (else its bytes) says; runs on worker threads."""
        row, dst = item
        try:
            if row.src_crc32c is None:
                # The source records no checksum: read it again, independently of the copy.
                try:
                    source = read_crc32c(self.ends.src, row.key)
                except NotFoundError:
                    return replace(row, state=ObjectState.GONE, error=None)
                if source.etag != row.src_etag:
                    # The source changed after the listing: plan the version that was read.
                    return row.replanned(source.size, source.etag, source.recorded, dst=dst)
                row = replace(row, src_crc32c=source.crc32c)
            if dst is not None and dst.crc32c is not None:
                return _judge(row, dst.etag, dst.crc32c)
            got = checksum_of(self.ends.dst, row.key)
        except FATAL_ERRORS:
            raise
        except PortaCloudError as exc:
            return replace(row, state=ObjectState.FAILED, error=str(exc))
        return _judge(row, got.etag, got.crc32c)


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
class _Sums:
    """The checksums of one compared key, as they become known, and the bytes read for them."""

    src_crc: str | None
    dst_crc: str | None
    recorded: str | None
    read: int = 0


def _mismatch(
    reason: str,
    message: str,
    expected: Listed,
    found: Listed | None,
    *,
    src_crc: str | None,
    dst_crc: str | None = None,
) -> Mismatch:
    return Mismatch(
        key=expected.key,
        reason=reason,
        src_crc32c=src_crc,
        dst_crc32c=dst_crc,
        src_size=expected.size,
        dst_size=None if found is None else found.size,
        message=message,
    )


def _compare(
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
        message = f"{key!r} is missing at the destination"
        return _mismatch("missing", message, expected, None, src_crc=expected.crc32c), 0
    if found.size != expected.size:
        message = f"{key!r}: the source has {expected.size} bytes, the destination {found.size}"
        sizes = _mismatch(
            "size", message, expected, found, src_crc=expected.crc32c, dst_crc=found.crc32c
        )
        return sizes, 0
    sums = _Sums(src_crc=expected.crc32c, dst_crc=found.crc32c, recorded=found.crc32c)
    try:
        _read_sums(src, dst, key, sums, deep=deep)
    except FATAL_ERRORS:
        raise
    except NotFoundError:
        message = f"{key!r} disappeared while it was being verified"
        return _mismatch("missing", message, expected, None, src_crc=sums.src_crc), sums.read
    except PortaCloudError as exc:
        message = f"{key!r}: {exc}"
        return _mismatch("unreadable", message, expected, found, src_crc=sums.src_crc), sums.read
    return _judge_sums(expected, found, sums), sums.read


def _read_sums(src: Bucket | None, dst: Bucket, key: str, sums: _Sums, *, deep: bool) -> None:
    """Fill in the checksums the listings lacked (and, when ``deep``, those of the bytes)."""
    if sums.src_crc is None and src is not None:
        streamed = checksum_of(src, key)
        sums.src_crc = streamed.crc32c
        sums.read += 0 if streamed.recorded else streamed.size
    if deep:
        got = read_crc32c(dst, key)
        sums.dst_crc, sums.recorded = got.crc32c, got.recorded
        sums.read += got.size
    elif sums.dst_crc is None:
        got = checksum_of(dst, key)
        sums.dst_crc, sums.recorded = got.crc32c, got.recorded
        sums.read += 0 if got.recorded else got.size


def _judge_sums(expected: Listed, found: Listed, sums: _Sums) -> Mismatch | None:
    key, src_crc, dst_crc = expected.key, sums.src_crc, sums.dst_crc
    if dst_crc != src_crc:
        message = crc_mismatch_message(key, src_crc, dst_crc)
        return _mismatch("crc32c", message, expected, found, src_crc=src_crc, dst_crc=dst_crc)
    if sums.recorded is not None and sums.recorded != dst_crc:
        message = (
            f"{key!r}: the destination's bytes have CRC32C {dst_crc}, but it records "
            f"{sums.recorded}; reads through portacloud will fail"
        )
        return _mismatch(
            "recorded-crc32c", message, expected, found, src_crc=src_crc, dst_crc=dst_crc
        )
    return None


def _version_mismatch(want: Listed, found: Listed | None) -> Mismatch | None:
    """Same bytes as the receipt lists, but another version of them."""
    if found is None or found.etag == want.etag:
        return None
    message = (
        f"{want.key!r}: the destination is version {found.etag}, the "
        f"receipt says {want.etag} (same bytes, rewritten since)"
    )
    return _mismatch("version", message, want, found, src_crc=want.crc32c, dst_crc=found.crc32c)


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
    extra = 0
    receipt_hash: str | None = None
    with Journal(None, src=src.url if src else str(receipt), dst=dst.url) as scratch:
        check = _BucketCheck(dst, scratch, deep=deep, concurrency=concurrency, sink=sink)
        sink(phase_started(Phase.PLAN))
        scratch.load_listing("dst", objects_of(dst))
        if src is not None:
            extra = check.against_source(src)
        if receipt is not None:
            receipt_hash = check.against_receipt(receipt, receipt_sha256)
    check.mismatches.sort(key=lambda m: m.key)
    return VerifyResult(
        src=src.url if src else "",
        dst=dst.url,
        checked=check.checked,
        bytes_read=check.bytes_read,
        extra=extra,
        deep=deep,
        mismatches=tuple(check.mismatches),
        receipt=None if receipt is None else str(receipt),
        receipt_sha256=receipt_hash,
        elapsed_s=time.monotonic() - started,
    )


def _as_listed(line: ReceiptLine) -> Listed:
    return Listed(line.key, line.size, line.dst_etag, line.crc32c)


@dataclass(slots=True)
class _BucketCheck:
    """Checks of one destination; the counts and mismatches of every pass add up here."""

    dst: Bucket
    scratch: Journal
    deep: bool
    concurrency: int
    sink: EventSink
    checked: int = 0
    bytes_read: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def against_source(self, src: Bucket) -> int:
        """Check every source object; return how many keys only the destination has."""
        totals = self.scratch.load_listing("src", objects_of(src))
        self.sink(phase_started(Phase.VERIFY, totals))
        self.run(src, (s for s, _, _ in self.scratch.joined()))
        return sum(1 for _ in self.scratch.destination_only())

    def against_receipt(self, receipt: Path, receipt_sha256: str | None) -> str:
        """Check every line of a receipt; return the receipt's SHA-256."""
        receipt_hash = receipt_sha256 or file_sha256(receipt)
        lines = read_receipt(receipt, expected_sha256=receipt_sha256)
        self.sink(phase_started(Phase.RECEIPT))
        # The source was compared above; against a receipt, the recorded checksums are
        # what the auditor fingerprinted, so a deep check reads the destination again.
        self.run(None, (_as_listed(line) for line in lines), etags=True)
        return receipt_hash

    def run(self, src: Bucket | None, expected: Iterator[Listed], *, etags: bool = False) -> None:
        """Compare each expected object with the destination, ``concurrency`` at a time."""
        cancel = threading.Event()

        def work(item: tuple[Listed, Listed | None]) -> tuple[Mismatch | None, int]:
            if cancel.is_set():
                return None, 0
            return _compare(src, self.dst, item[0], item[1], deep=self.deep)

        pairs = ((want, self.scratch.listed("dst", want.key)) for want in expected)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="verify") as pool:
            try:
                for (want, found), (compared, read) in bounded_map(
                    pool, work, pairs, window=2 * self.concurrency
                ):
                    self.checked += 1
                    self.bytes_read += read
                    late = _version_mismatch(want, found) if etags and compared is None else None
                    self._report(want, compared or late)
            except BaseException:
                cancel.set()
                raise

    def _report(self, want: Listed, mismatch: Mismatch | None) -> None:
        if mismatch is not None:
            self.mismatches.append(mismatch)
            self.sink(failed(Phase.VERIFY, want.key, mismatch.message))
        self.sink(MigrationEvent(kind="object", phase=Phase.VERIFY, key=want.key, bytes=want.size))

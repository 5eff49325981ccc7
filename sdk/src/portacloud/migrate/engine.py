"""The migration engine: plan, copy, verify, delete, receipt; resumable at any instant."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from portacloud.errors import InvalidArgumentError, NotFoundError
from portacloud.migrate.copy import SMALL_OBJECT, Copier, CopyOutcome
from portacloud.migrate.endpoints import Endpoints, open_endpoints
from portacloud.migrate.events import EventSink, failed, object_done, phase_started
from portacloud.migrate.journal import Journal, JournalRow
from portacloud.migrate.models import (
    Action,
    KeyRange,
    MigrationEvent,
    MigrationPlan,
    MigrationResult,
    ObjectFailure,
    ObjectState,
    Phase,
    VerifyResult,
)
from portacloud.migrate.plan import build_plan, refuse_deletions
from portacloud.migrate.receipt import write_receipt
from portacloud.migrate.verify import bounded_map, verify_buckets, verify_journal
from portacloud.private_files import state_dir
from portacloud.profiles import Profile
from portacloud.storage.bucket import Bucket

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_DELETE",
    "MAX_ROUNDS",
    "default_journal_path",
    "migrate",
    "migrate_range",
    "verify",
]

#: Objects moved at a time.
DEFAULT_CONCURRENCY = 16
#: Deletions allowed without ``force``.
DEFAULT_MAX_DELETE = 100
#: Copy-and-verify rounds before a source that keeps changing is given up on.
MAX_ROUNDS = 5
#: Failures reported in full in a result (the journal holds all of them).
_MAX_REPORTED_FAILURES = 1000

EventCallback = EventSink

_WRITES = (Action.COPY, Action.OVERWRITE)
_WRITTEN = (Action.COPY, Action.OVERWRITE, Action.SKIP)
_TO_VERIFY = (ObjectState.COPIED, ObjectState.VERIFIED)
_PENDING = (ObjectState.PENDING,)


def default_journal_path(src: str, dst: str) -> Path:
    """Where the journal of a (source, destination) pair lives when none is given.

    ``$PORTACLOUD_HOME/migrations/<16 hex digits of sha256(src, dst)>.sqlite``: rerunning the
    same command finds the same journal.
    """
    from portacloud.profiles import portacloud_home

    digest = hashlib.sha256(f"{src}\n{dst}".encode()).hexdigest()[:16]
    return portacloud_home() / "migrations" / f"{digest}.sqlite"


def _journal_path(journal: str | os.PathLike[str] | None, src: str, dst: str) -> Path:
    """The journal to use: the one given (its directory must exist), or the default one,
    whose private directory under ``$PORTACLOUD_HOME`` is made here."""
    if journal is not None:
        return Path(journal).absolute()
    state_dir("migrations")
    return default_journal_path(src, dst).absolute()


def _check_options(*, concurrency: object, max_delete: object) -> None:
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise InvalidArgumentError(f"concurrency must be an int >= 1, not {concurrency!r}")
    if not isinstance(max_delete, int) or isinstance(max_delete, bool) or max_delete < 0:
        raise InvalidArgumentError(f"max_delete must be an int >= 0, not {max_delete!r}")


def _ignore(event: MigrationEvent) -> None:
    """The event callback when none is given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settings:
    """The options of one :func:`migrate` call, checked when they are gathered."""

    journal: str | os.PathLike[str] | None
    receipt: str | os.PathLike[str] | None
    on_event: EventCallback | None
    dry_run: bool = False
    delete: bool = False
    max_delete: int = DEFAULT_MAX_DELETE
    force: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    profile: str | Profile | None = None
    key_range: KeyRange | None = None

    def __post_init__(self) -> None:
        _check_options(concurrency=self.concurrency, max_delete=self.max_delete)

    @property
    def sink(self) -> EventCallback:
        """Where events go."""
        return self.on_event or _ignore


class _Engine:
    def __init__(
        self,
        ends: Endpoints,
        journal: Journal,
        *,
        concurrency: int,
        on_event: EventCallback,
    ) -> None:
        self.ends = ends
        self.journal = journal
        self.concurrency = concurrency
        self.emit = on_event
        # Counters of this run, updated on the engine's main thread only.
        self.copied = self.bytes_copied = self.replanned = self.deleted = 0
        self.warnings: list[str] = []
        self.cancel = threading.Event()
        #: Keys copied again in this run because a second read of their source disagreed.
        self.second_chances: set[str] = set()

    def rounds(self) -> None:
        """Copy and verify until nothing is pending (or the source never rests), then delete."""
        for _ in range(MAX_ROUNDS):
            self.copy_phase()
            # Rows the copy phase itself set back to pending (a source that changed under a
            # read) need another round as much as those verification re-planned.
            if self.verify_phase() == 0 and not self.pending():
                break
        else:
            self.give_up_on_pending()
        self.delete_phase()

    # ------------------------------------------------------------------ copy

    def copy_phase(self) -> None:
        self.emit(phase_started(Phase.COPY, self.journal.count(_WRITES, _PENDING)))
        self.journal.set_status("copying")

        def on_bytes(key: str, n: int) -> None:
            self.emit(MigrationEvent(kind="bytes", phase=Phase.COPY, key=key, bytes=n))

        def on_warning(message: str) -> None:
            self.warnings.append(message)
            self.emit(MigrationEvent(kind="warning", phase=Phase.COPY, message=message))

        copier = Copier(self.ends, on_bytes=on_bytes, on_warning=on_warning, cancel=self.cancel)
        # Streamed objects first: the longest transfers start at once and overlap the many
        # small ones, instead of trailing at the end of the run.
        rows = itertools.chain(
            self.journal.rows(states=_PENDING, actions=_WRITES, sizes=(SMALL_OBJECT + 1, None)),
            self.journal.rows(states=_PENDING, actions=_WRITES, sizes=(0, SMALL_OBJECT + 1)),
        )
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="copy")
        try:
            for row, outcome in bounded_map(pool, copier, rows, window=2 * self.concurrency):
                self._record_copy(row, outcome)
        except BaseException:
            # Streams stop at their next chunk; an interrupted write leaves no object.
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _record_copy(self, before: JournalRow, outcome: CopyOutcome) -> None:
        row = outcome.row
        self.journal.put(row)
        if outcome.replanned:
            self.replanned += 1
            self.emit(MigrationEvent(kind="replanned", phase=Phase.COPY, key=row.key))
        if row.copies > before.copies:
            self.copied += 1
            self.bytes_copied += outcome.written
        if row.state is ObjectState.FAILED:
            self.emit(failed(Phase.COPY, row.key, row.error))
        moved = max(0, outcome.written - outcome.reported)
        self.emit(object_done(Phase.COPY, row, moved=moved))

    # ------------------------------------------------------------------ verify

    def verify_phase(self) -> int:
        self.emit(phase_started(Phase.VERIFY, self.journal.count(_WRITTEN, _TO_VERIFY)))
        self.journal.set_status("verifying")
        check = verify_journal(
            self.ends,
            self.journal,
            concurrency=self.concurrency,
            on_event=self.emit,
            second_chances=self.second_chances,
        )
        self.replanned += check.replanned
        return check.replanned

    # ------------------------------------------------------------------ delete

    def delete_phase(self) -> None:
        totals = self.journal.count((Action.DELETE,), _PENDING)
        if not totals[0]:
            return
        self.emit(phase_started(Phase.DELETE, totals))
        self.journal.set_status("deleting")
        for row in self.journal.rows(states=_PENDING, actions=[Action.DELETE]):
            if self.journal.listed("src", row.key) is not None:
                # The key appeared at the source during the run: it is no extra any more.
                self.journal.put(replace(row, state=ObjectState.GONE))
                continue
            done = self._delete(row)
            self.journal.put(done)
            if done.state is ObjectState.FAILED:
                self.emit(failed(Phase.DELETE, row.key, done.error))
            else:
                self.deleted += 1
                self.emit(object_done(Phase.DELETE, done))

    def _delete(self, row: JournalRow) -> JournalRow:
        """Delete one extra destination object, unless it changed since the plan."""
        dst = self.ends.dst
        try:
            current = dst.head(row.key)
        except NotFoundError:
            current = None
        if current is not None and current.etag != row.dst_etag_planned:
            # No backend deletes conditionally; a head check is the best guard there is.
            return replace(
                row,
                state=ObjectState.FAILED,
                error=f"{row.key!r} changed at the destination after the plan "
                f"(etag {current.etag}); it was not deleted",
            )
        if current is not None:
            dst.delete(row.key)
        return replace(row, state=ObjectState.DELETED, error=None)

    # ------------------------------------------------------------------ the end

    def pending(self) -> int:
        """Copies and overwrites still waiting."""
        return self.journal.count(_WRITES, _PENDING)[0]

    def give_up_on_pending(self) -> None:
        for row in self.journal.rows(states=_PENDING, actions=_WRITES):
            self.journal.put(
                replace(
                    row,
                    state=ObjectState.FAILED,
                    error=f"the source kept changing during {MAX_ROUNDS} copy-and-verify "
                    "rounds; rerun when it is quiet",
                )
            )

    def failures(self) -> list[ObjectFailure]:
        failed: list[ObjectFailure] = []
        for row in self.journal.rows(states=[ObjectState.FAILED]):
            # A row gets its destination etag when it is written: failing after that means
            # failing verification.
            phase = Phase.COPY if row.dst_etag is None else Phase.VERIFY
            if row.action is Action.DELETE:
                phase = Phase.DELETE
            failed.append(ObjectFailure(key=row.key, phase=phase, message=row.error or "failed"))
            if len(failed) >= _MAX_REPORTED_FAILURES:
                break
        return failed


def migrate(
    src: str | Bucket,
    dst: str | Bucket,
    *,
    dry_run: bool = False,
    delete: bool = False,
    max_delete: int = DEFAULT_MAX_DELETE,
    force: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    journal: str | os.PathLike[str] | None = None,
    receipt: str | os.PathLike[str] | None = None,
    on_event: EventCallback | None = None,
    profile: str | Profile | None = None,
) -> MigrationResult:
    """Migrate every object under ``src`` to ``dst``: plan, copy, verify, receipt.

    Rerunning the same call after a crash or a ``kill -9`` continues where it stopped: verified
    objects are not copied again, and the run ends with the destination complete and verified.
    Every write is conditional on the destination version the plan saw, and every copy reads
    exactly one source version; sources that change during the run are planned again.

    Args:
        src: The source, as a URL (``s3://bucket/prefix``) or an open :class:`Bucket`.
        dst: The destination, likewise.
        dry_run: Only plan: list both sides, count and price the work, write nothing (no
            journal either).
        delete: Delete destination objects not at the source, once the copies are verified.
        max_delete: Refuse to start when the plan deletes more objects than this...
        force: ...unless this is set.
        concurrency: Objects copied (and checksums computed) at a time.
        journal: The journal file; by default one per (src, dst) pair under
            ``$PORTACLOUD_HOME/migrations/`` (see :func:`default_journal_path`).
        receipt: Where to write the receipt; by default beside the journal, with the suffix
            ``.receipt.jsonl``. Written only when every object verified.
        on_event: Called with progress events, on the engine's threads.
        profile: A profile (or its name) whose region policy binds both sides.

    Returns:
        What the run did. ``result.ok`` is False when some objects failed; their errors are in
        ``result.failures`` and in the journal, and rerunning continues with them.

    Raises:
        InvalidArgumentError: Same or overlapping source and destination, bad options.
        NotFoundError: A bucket, or the directory of ``journal``, does not exist.
        PermissionDeniedError: Listing, reading or writing is not allowed (the run stops).
        FailedPreconditionError: The plan deletes more than ``max_delete`` objects without
            ``force``, or another process runs the same journal.
    """
    settings = _Settings(
        dry_run=dry_run,
        delete=delete,
        max_delete=max_delete,
        force=force,
        concurrency=concurrency,
        journal=journal,
        receipt=receipt,
        on_event=on_event,
        profile=profile,
    )
    return _migrate(src, dst, settings)


def migrate_range(
    src: str,
    dst: str,
    key_range: KeyRange,
    *,
    journal: str | os.PathLike[str],
    receipt: str | os.PathLike[str],
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: EventCallback | None = None,
) -> MigrationResult:
    """:func:`migrate` restricted to the keys of ``key_range``, on both sides: one shard of a
    sharded migration (:mod:`portacloud.migrate.shard_worker`). Nothing is deleted.

    Args:
        src: The source URL.
        dst: The destination URL.
        key_range: The keys this run owns.
        journal: The shard's journal file.
        receipt: Where to write the shard's receipt.
        concurrency: Objects copied at a time.
        on_event: Called with progress events, on the engine's threads.
    """
    return _migrate(
        src,
        dst,
        _Settings(
            journal=journal,
            receipt=receipt,
            on_event=on_event,
            concurrency=concurrency,
            key_range=key_range,
        ),
    )


def _migrate(src: str | Bucket, dst: str | Bucket, settings: _Settings) -> MigrationResult:
    started = time.monotonic()
    sink = settings.sink
    ends = open_endpoints(src, dst, dry_run=settings.dry_run, profile=settings.profile)
    ends.key_range = settings.key_range
    try:
        path = None
        if not settings.dry_run:
            path = _journal_path(settings.journal, ends.src_url, ends.dst_url)
            sink(MigrationEvent(kind="journal", message=str(path)))
        with Journal(path, src=ends.src_url, dst=ends.dst_url) as book:
            plan = build_plan(
                ends,
                book,
                delete=settings.delete,
                max_delete=settings.max_delete,
                force=settings.force,
                concurrency=settings.concurrency,
                on_event=sink,
            )
            if path is None:
                return MigrationResult(
                    src=ends.src_url,
                    dst=ends.dst_url,
                    plan=plan,
                    dry_run=True,
                    skipped=plan.skips.objects,
                    elapsed_s=time.monotonic() - started,
                )
            refuse_deletions(plan)
            return _run(ends, book, plan, path=path, settings=settings, started=started)
    finally:
        ends.close()


def _run(
    ends: Endpoints,
    book: Journal,
    plan: MigrationPlan,
    *,
    path: Path,
    settings: _Settings,
    started: float,
) -> MigrationResult:
    engine = _Engine(ends, book, concurrency=settings.concurrency, on_event=settings.sink)
    try:
        engine.rounds()
    except BaseException:
        book.set_status("interrupted")
        raise
    failures = engine.failures()
    receipt_path: Path | None = None
    receipt_sha: str | None = None
    if not failures:
        settings.sink(phase_started(Phase.RECEIPT))
        receipt = settings.receipt
        receipt_path = (
            Path(receipt) if receipt is not None else path.with_suffix(".receipt.jsonl")
        ).absolute()
        _, receipt_sha = write_receipt(
            book.rows(states=[ObjectState.VERIFIED], actions=_WRITTEN), receipt_path
        )
    book.set_status("complete" if not failures else "incomplete")
    every = tuple(Action)
    return MigrationResult(
        src=ends.src_url,
        dst=ends.dst_url,
        plan=plan,
        copied=engine.copied,
        bytes_copied=engine.bytes_copied,
        skipped=plan.skips.objects,
        verified=book.count(every, (ObjectState.VERIFIED,))[0],
        deleted=engine.deleted,
        replanned=engine.replanned,
        gone=book.count(every, (ObjectState.GONE,))[0],
        failures=tuple(failures),
        warnings=tuple(engine.warnings),
        elapsed_s=time.monotonic() - started,
        journal=str(path),
        receipt=None if receipt_path is None else str(receipt_path),
        receipt_sha256=receipt_sha,
    )


def verify(
    src: str | Bucket | None,
    dst: str | Bucket,
    *,
    deep: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
    receipt: str | os.PathLike[str] | None = None,
    receipt_sha256: str | None = None,
    on_event: EventCallback | None = None,
    profile: str | Profile | None = None,
) -> VerifyResult:
    """Re-check a finished migration: every source object must be at the destination, same
    size, same CRC32C of its bytes.

    Args:
        src: The source URL or bucket; ``None`` to check only against ``receipt``.
        dst: The destination URL or bucket.
        deep: Read and hash every destination object, not trusting its recorded CRC32C.
        concurrency: Objects read at a time.
        receipt: A receipt of :func:`migrate`: each object must be there as it lists it.
        receipt_sha256: The SHA-256 printed with the receipt; the file must still have it.
        on_event: Called with progress events.
        profile: A profile (or its name) whose region policy binds both sides.

    Returns:
        The mismatches, each naming the key and both checksums; ``result.ok`` when none.
    """
    _check_options(concurrency=concurrency, max_delete=0)
    if src is None and receipt is None:
        raise InvalidArgumentError("verify needs a source, a receipt, or both")
    src_url = ""
    if src is not None:
        # Opened as a dry run does: verify writes nothing, so a missing file:// destination
        # is not created but checked as the empty place it is (every object "missing").
        ends = open_endpoints(src, dst, dry_run=True, profile=profile)
        owned = ends.owned
        src_bucket: Bucket | None = ends.src
        dst_bucket = ends.dst
        src_url = ends.src_url
    else:
        from portacloud.openers import open_bucket

        dst_bucket = dst if isinstance(dst, Bucket) else open_bucket(dst, profile=profile)
        owned = () if isinstance(dst, Bucket) else (dst_bucket,)
        src_bucket = None
    try:
        result = verify_buckets(
            src_bucket,
            dst_bucket,
            deep=deep,
            concurrency=concurrency,
            receipt=None if receipt is None else Path(receipt),
            receipt_sha256=receipt_sha256,
            on_event=on_event,
        )
    finally:
        for bucket in owned:
            bucket.close()
    dst_url = dst if isinstance(dst, str) else dst.url
    return result.model_copy(update={"src": src_url, "dst": dst_url})

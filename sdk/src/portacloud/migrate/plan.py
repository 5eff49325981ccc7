"""The plan phase: list both sides and decide, per key, copy, overwrite, skip or delete."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from portacloud.costs.storage import estimate_cost, write_requests
from portacloud.errors import FailedPreconditionError, PortaCloudError
from portacloud.migrate.endpoints import Endpoints
from portacloud.migrate.journal import Journal, JournalRow, Listed
from portacloud.migrate.models import (
    Action,
    ActionTotals,
    KeyRange,
    MigrationEvent,
    MigrationPlan,
    ObjectState,
    Phase,
)
from portacloud.migrate.reading import StreamedChecksum, checksum_of
from portacloud.storage.bucket import Bucket
from portacloud.storage.models import ObjectInfo, PrefixInfo

__all__ = ["build_plan", "decide", "objects_of"]

EventSink = Callable[[MigrationEvent], None]

_COMPARE_BATCH = 256


def objects_of(bucket: Bucket, key_range: KeyRange | None = None) -> Iterator[ObjectInfo]:
    """Every object of a bucket, recursively; only those in ``key_range`` when one is given.

    Where listings are sorted the listing starts at the range (``start_after``) and stops past
    its end, so shards list in parallel; elsewhere (SeaweedFS lists in file-tree order) the
    whole listing is read and filtered.
    """
    if key_range is None:
        yield from (e for e in bucket.list() if not isinstance(e, PrefixInfo))
        return
    ordered = bucket.capabilities.list_sorted
    for entry in bucket.list(start_after=key_range.after if ordered else None):
        if isinstance(entry, PrefixInfo):
            continue
        if entry.key in key_range:
            yield entry
        elif ordered and key_range.upto is not None and entry.key > key_range.upto:
            return


def decide(src: Listed, dst: Listed | None, old: JournalRow | None) -> JournalRow | None:
    """Decide what to do with one source key, or return ``None`` if bytes must be read first.

    Args:
        src: The key as the source listing saw it.
        dst: The key as the destination listing saw it, if it exists there.
        old: The key's row from an earlier run of the same migration, if any.

    Returns:
        The planned row. ``None`` when the sizes match but a checksum is missing on one side:
        only the bytes can tell then.
    """
    copies = old.copies if old else 0
    # Checksums computed by an earlier run stand for as long as the version they were
    # computed from: that is how a foreign object is hashed once, not on every run.
    src_crc = src.crc32c or (
        old.src_crc32c if old and old.src_etag == src.etag and old.src_crc32c else None
    )
    base = JournalRow(
        key=src.key,
        action=Action.COPY,
        state=ObjectState.PENDING,
        size=src.size,
        src_etag=src.etag,
        src_crc32c=src_crc,
        copies=copies,
    )
    if dst is None:
        return base
    dst_crc = dst.crc32c or (
        old.dst_crc32c if old and old.dst_etag == dst.etag and old.dst_crc32c else None
    )
    overwrite = replace(
        base,
        action=Action.OVERWRITE,
        dst_etag_planned=dst.etag,
        dst_crc32c=dst_crc,
    )
    if (
        old is not None
        and old.state is ObjectState.VERIFIED
        and old.src_etag == src.etag
        and old.dst_etag == dst.etag
    ):
        return replace(overwrite, action=Action.SKIP, state=ObjectState.VERIFIED, dst_etag=dst.etag)
    if src.size != dst.size:
        return overwrite
    if src_crc is None or dst_crc is None:
        return None
    if src_crc == dst_crc:
        return replace(overwrite, action=Action.SKIP, state=ObjectState.VERIFIED, dst_etag=dst.etag)
    return overwrite


def _resolve(
    ends: Endpoints,
    src: Listed,
    dst: Listed,
    old: JournalRow | None,
    cancel: threading.Event,
) -> JournalRow:
    """Find the checksums the listings lacked (head, else bytes), then decide."""
    src_sum: StreamedChecksum | None = None
    dst_sum: StreamedChecksum | None = None
    first = decide(src, None, old)
    assert first is not None  # an absent destination never needs bytes
    if first.src_crc32c is None:
        src_sum = checksum_of(ends.src, src.key, cancel=cancel)
        src = Listed(src.key, src_sum.size, src_sum.etag, src_sum.crc32c)
    known_dst = decide(src, dst, old)
    if known_dst is not None:
        return _unvouched(known_dst, src_sum)
    dst_sum = checksum_of(ends.dst, dst.key, cancel=cancel)
    dst = Listed(dst.key, dst_sum.size, dst_sum.etag, dst_sum.crc32c)
    decided = decide(src, dst, old)
    assert decided is not None  # both checksums are known now
    return _unvouched(decided, src_sum)


def _unvouched(row: JournalRow, src_sum: StreamedChecksum | None) -> JournalRow:
    """Keep a source checksum computed from one read only where something agreed with it.

    A single read may have been damaged on the way. Matching the destination's checksum
    proves it (a skip); otherwise the row must not carry it, or the copy would take the
    damaged checksum for the truth (see :mod:`portacloud.migrate.copy`).
    """
    if src_sum is None or src_sum.recorded is not None or row.action is Action.SKIP:
        return row
    return replace(row, src_crc32c=None)


def _decided_rows(
    ends: Endpoints,
    journal: Journal,
    pool: ThreadPoolExecutor,
    cancel: threading.Event,
) -> Iterator[JournalRow]:
    waiting: list[Future[JournalRow]] = []
    for src, dst, old in journal.joined():
        row = decide(src, dst, old)
        if row is not None:
            yield row
            continue
        assert dst is not None
        waiting.append(pool.submit(_resolve, ends, src, dst, old, cancel))
        if len(waiting) >= _COMPARE_BATCH:
            yield from (f.result() for f in waiting)
            waiting = []
    yield from (f.result() for f in waiting)


def _batched(rows: Iterable[JournalRow], size: int = 1000) -> Iterator[list[JournalRow]]:
    batch: list[JournalRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(slots=True)
class _Tally:
    """Objects and bytes per action as the plan is made, and the writes they cost."""

    sums: dict[Action, list[int]] = field(default_factory=lambda: {a: [0, 0] for a in Action})
    kept: list[int] = field(default_factory=lambda: [0, 0])
    dst_writes: int = 0

    def add(self, row: JournalRow, *, kept: bool = False) -> None:
        """Count one planned row (``kept``: a destination-only key left in place)."""
        sums = self.kept if kept else self.sums[row.action]
        sums[0] += 1
        sums[1] += row.size
        if row.action in (Action.COPY, Action.OVERWRITE):
            self.dst_writes += write_requests(row.size)

    def totals(self) -> dict[Action, ActionTotals]:
        return {a: ActionTotals(objects=n, bytes=b) for a, (n, b) in self.sums.items()}

    def extras(self) -> ActionTotals:
        return ActionTotals(objects=self.kept[0], bytes=self.kept[1])


def build_plan(
    ends: Endpoints,
    journal: Journal,
    *,
    delete: bool,
    max_delete: int,
    force: bool,
    concurrency: int,
    on_event: EventSink,
) -> MigrationPlan:
    """List both sides into the journal and replace its plan with a fresh one.

    Checksums missing on either side of a same-size pair are computed by reading the bytes,
    ``concurrency`` objects at a time.

    Returns:
        The plan's totals and cost estimate. The rows are in the journal.
    """
    on_event(MigrationEvent(kind="phase", phase=Phase.PLAN))
    src_count, _ = journal.load_listing("src", objects_of(ends.src, ends.key_range))
    dst_count, _ = journal.load_listing("dst", objects_of(ends.dst, ends.key_range))
    tally = _Tally()
    journal.begin_plan()
    _plan_source_keys(ends, journal, tally, concurrency=concurrency)
    _plan_extras(journal, tally, delete=delete)
    journal.commit_plan()
    totals = tally.totals()
    deletes = totals[Action.DELETE].objects
    refused = deletes > max_delete and not force
    cost = estimate_cost(
        src_provider=ends.src.provider,
        dst_provider=ends.dst.provider,
        egress_bytes=totals[Action.COPY].bytes + totals[Action.OVERWRITE].bytes,
        src_objects=src_count,
        dst_objects=dst_count,
        src_reads=totals[Action.COPY].objects + totals[Action.OVERWRITE].objects,
        dst_writes=tally.dst_writes,
        dst_deletes=deletes,
        server_side=ends.server_side,
    )
    plan = MigrationPlan(
        src=ends.src_url,
        dst=ends.dst_url,
        copies=totals[Action.COPY],
        overwrites=totals[Action.OVERWRITE],
        skips=totals[Action.SKIP],
        deletes=totals[Action.DELETE],
        extras=tally.extras(),
        max_delete=max_delete,
        delete_refused=refused,
        server_side_copy=ends.server_side,
        conditional_writes=_conditional(ends.dst),
        cost=cost,
        dst_region=_region_or_none(ends.dst),
        warnings=_warnings(
            ends, src_count=src_count, refused=refused, deletes=deletes, max_delete=max_delete
        ),
    )
    on_event(MigrationEvent(kind="plan", phase=Phase.PLAN, message=plan.model_dump_json()))
    return plan


def _conditional(bucket: Bucket) -> bool:
    """Whether writes to ``bucket`` can be guarded by create-only and compare-and-swap."""
    caps = bucket.capabilities
    return caps.write_with_if_none_match and caps.write_with_if_match


def _region_or_none(bucket: Bucket) -> str | None:
    """The bucket's region for the plan, ``None`` where the backend cannot tell or the
    credentials may not ask (``s3:GetBucketLocation``): a plan is made without it."""
    try:
        return bucket.region()
    except PortaCloudError:
        return None


def _plan_source_keys(
    ends: Endpoints, journal: Journal, tally: _Tally, *, concurrency: int
) -> None:
    """Decide every source key, reading ``concurrency`` objects at a time where needed."""
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="plan") as pool:
        try:
            for batch in _batched(_decided_rows(ends, journal, pool, cancel)):
                for row in batch:
                    tally.add(row)
                journal.add_to_plan(batch)
        except BaseException:
            cancel.set()
            raise


def _plan_extras(journal: Journal, tally: _Tally, *, delete: bool) -> None:
    """Count the destination-only keys: deletions when ``delete``, else kept extras."""
    deletions = (
        JournalRow(
            key=d.key,
            action=Action.DELETE,
            state=ObjectState.PENDING,
            size=d.size,
            dst_etag_planned=d.etag,
            dst_crc32c=d.crc32c,
        )
        for d in journal.destination_only()
    )
    for batch in _batched(deletions):
        for row in batch:
            tally.add(row, kept=not delete)
        if delete:
            journal.add_to_plan(batch)


def _warnings(
    ends: Endpoints, *, src_count: int, refused: bool, deletes: int, max_delete: int
) -> tuple[str, ...]:
    caps = ends.dst.capabilities
    found: list[str] = []
    if src_count == 0:
        found.append(f"the source {ends.src_url} is empty")
    if not (caps.write_with_if_none_match and caps.write_with_if_match):
        found.append(
            f"the destination ({ends.dst.provider}) has no atomic conditional writes: a head "
            "check before each write stands in, which a concurrent writer can race"
        )
    if not caps.write_with_user_metadata:
        found.append("the destination cannot store user metadata; objects with some will fail")
    if not caps.write_with_content_type:
        found.append("the destination cannot store content types; objects with one will fail")
    if refused:
        found.append(
            f"the plan deletes {deletes} objects, more than --max-delete {max_delete}; "
            "the run will refuse to start without --force"
        )
    return tuple(found)


def refuse_deletions(plan: MigrationPlan) -> None:
    """Raise before any byte moves when the plan deletes more than it may.

    Raises:
        FailedPreconditionError: ``plan.delete_refused`` is set.
    """
    if plan.delete_refused:
        raise FailedPreconditionError(
            f"the plan deletes {plan.deletes.objects} objects at {plan.dst}, more than "
            f"--max-delete {plan.max_delete}; check the plan with --dry-run, then pass --force "
            "or raise --max-delete",
            operation="migrate",
        )

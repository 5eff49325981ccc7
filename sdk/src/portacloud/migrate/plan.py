"""The plan phase: list both sides and decide, per key, copy, overwrite, skip or delete."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from portacloud.errors import FailedPreconditionError
from portacloud.migrate.endpoints import Endpoints
from portacloud.migrate.journal import Journal, JournalRow, Listed
from portacloud.migrate.models import (
    Action,
    ActionTotals,
    MigrationEvent,
    MigrationPlan,
    ObjectState,
    Phase,
)
from portacloud.migrate.prices import estimate_cost, write_requests
from portacloud.migrate.reading import StreamedChecksum, checksum_of
from portacloud.storage.bucket import Bucket
from portacloud.storage.models import ObjectInfo, PrefixInfo

__all__ = ["build_plan", "decide", "objects_of"]

EventSink = Callable[[MigrationEvent], None]

_COMPARE_BATCH = 256


def objects_of(bucket: Bucket) -> Iterator[ObjectInfo]:
    """Every object of a bucket, recursively."""
    for entry in bucket.list():
        if not isinstance(entry, PrefixInfo):
            yield entry


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
    src_count, _ = journal.load_listing("src", objects_of(ends.src))
    dst_count, _ = journal.load_listing("dst", objects_of(ends.dst))
    totals = {a: [0, 0] for a in Action}
    dst_writes = 0
    journal.begin_plan()
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="plan") as pool:
        try:
            for batch in _batched(_decided_rows(ends, journal, pool, cancel)):
                for row in batch:
                    totals[row.action][0] += 1
                    totals[row.action][1] += row.size
                    if row.action in (Action.COPY, Action.OVERWRITE):
                        dst_writes += write_requests(row.size)
                journal.add_to_plan(batch)
        except BaseException:
            cancel.set()
            raise
    extras = [0, 0]
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
            extras[0] += 1
            extras[1] += row.size
        if delete:
            journal.add_to_plan(batch)
    if delete:
        totals[Action.DELETE] = extras
        extras = [0, 0]
    journal.commit_plan()

    refused = totals[Action.DELETE][0] > max_delete and not force
    transfer = totals[Action.COPY][1] + totals[Action.OVERWRITE][1]
    reads = totals[Action.COPY][0] + totals[Action.OVERWRITE][0]
    warnings = _warnings(
        ends,
        src_count=src_count,
        refused=refused,
        deletes=totals[Action.DELETE][0],
        max_delete=max_delete,
    )
    cost = estimate_cost(
        src_provider=ends.src.provider,
        dst_provider=ends.dst.provider,
        egress_bytes=transfer,
        src_objects=src_count,
        dst_objects=dst_count,
        src_reads=reads,
        dst_writes=dst_writes,
        dst_deletes=totals[Action.DELETE][0],
        server_side=ends.root is not None,
    )
    caps = ends.dst.capabilities
    plan = MigrationPlan(
        src=ends.src_url,
        dst=ends.dst_url,
        copies=ActionTotals(objects=totals[Action.COPY][0], bytes=totals[Action.COPY][1]),
        overwrites=ActionTotals(
            objects=totals[Action.OVERWRITE][0], bytes=totals[Action.OVERWRITE][1]
        ),
        skips=ActionTotals(objects=totals[Action.SKIP][0], bytes=totals[Action.SKIP][1]),
        deletes=ActionTotals(objects=totals[Action.DELETE][0], bytes=totals[Action.DELETE][1]),
        extras=ActionTotals(objects=extras[0], bytes=extras[1]),
        max_delete=max_delete,
        delete_refused=refused,
        server_side_copy=ends.root is not None,
        conditional_writes=caps.write_with_if_none_match and caps.write_with_if_match,
        cost=cost,
        warnings=warnings,
    )
    on_event(MigrationEvent(kind="plan", phase=Phase.PLAN, message=plan.model_dump_json()))
    return plan


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

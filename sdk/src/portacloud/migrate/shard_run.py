"""Running a sharded migration: submit the shards that are not done, watch, merge receipts."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from portacloud.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from portacloud.jobs.models import JobSpec
from portacloud.jobs.queue import JobQueue
from portacloud.migrate.cluster import (
    ClusterOptions,
    ShardedResult,
    default_receipt,
    open_state,
    resolve_profile,
    stored_or_new_plan,
)
from portacloud.migrate.forwarding import forwarded_values, write_forward_file
from portacloud.migrate.journal import Journal
from portacloud.migrate.models import MigrationResult, ObjectFailure, ObjectState, Phase
from portacloud.migrate.receipt import ReceiptLine, read_receipt, write_jsonl
from portacloud.migrate.shard_state import RunRecord, ShardState, check_reachable
from portacloud.migrate.shard_watch import ShardsProgress, read_progress, watch_job
from portacloud.migrate.shards import ShardPlan, ShardSpec
from portacloud.private_files import state_dir
from portacloud.profiles import Profile

__all__ = ["run_sharded"]

_UNFINISHED = (ObjectState.PENDING, ObjectState.COPIED, ObjectState.FAILED)
#: Unfinished keys listed per shard that never reported a result (the journal has them all).
_MAX_LISTED = 1000


def run_sharded(
    src: str,
    dst: str,
    options: ClusterOptions,
    *,
    dry_run: bool,
    profile: str | Profile | None,
    sink: Callable[[ShardsProgress], None] | None,
) -> ShardedResult:
    """Plan (or reload the plan), submit what is not done, watch it, and merge the receipts."""
    started = time.monotonic()
    for role, url in (("source", src), ("destination", dst)):
        if not isinstance(url, str):
            raise InvalidArgumentError(f"a sharded migration needs the {role} as a URL")
    chosen = resolve_profile(profile)
    store, state_url = open_state(src, dst, options.state, chosen, create=not dry_run)
    try:
        if not dry_run:
            check_reachable(state_url, options.on, shared=options.shared_state)
        values = forwarded_values(options.forward_env)
        plan = stored_or_new_plan(store, src, dst, options, dry_run=dry_run, profile=chosen)
        base = ShardedResult(src=src, dst=dst, on=options.on, state=state_url, plan=plan)
        if dry_run:
            return base.model_copy(
                update={"dry_run": True, "elapsed_s": time.monotonic() - started}
            )
        from portacloud.openers import open_jobs

        queue = open_jobs(options.on, profile=chosen)
        try:
            run = _job_to_watch(store, plan, queue, options, values)
            try:
                watched = watch_job(
                    store,
                    plan,
                    queue=queue,
                    job_id=None if run is None else run.job_id,
                    sink=sink,
                    poll_s=options.poll_s,
                )
            finally:
                if run is not None and run.forward_file:
                    Path(run.forward_file).unlink(missing_ok=True)
        finally:
            queue.close()
        result = _collect(store, plan, base, watched, receipt=options.receipt)
        return result.model_copy(update={"elapsed_s": time.monotonic() - started})
    finally:
        store.close()


def _still_running(store: ShardState, options: ClusterOptions, queue: JobQueue) -> RunRecord | None:
    """The job of an earlier coordinator, when it has not ended."""
    run = store.read("run.json", RunRecord)
    if run is None:
        return None
    if run.on != options.on:
        raise FailedPreconditionError(
            f"the shards of this migration were submitted to {run.on}: rerun with --on "
            f"{run.on}, or wait for that job to end and remove {store.bucket.url}run.json",
            operation="migrate",
        )
    try:
        status = queue.status(run.job_id)
    except NotFoundError:
        return None
    return None if status.state.terminal else run


def _done(store: ShardState, index: int) -> bool:
    result = store.read(store.shard_key(index, "result.json"), MigrationResult)
    return result is not None and result.ok


def _job_to_watch(
    store: ShardState,
    plan: ShardPlan,
    queue: JobQueue,
    options: ClusterOptions,
    values: dict[str, str],
) -> RunRecord | None:
    """The running job of a killed coordinator, or a new one for the shards not done yet
    (``None`` when every shard is done)."""
    running = _still_running(store, options, queue)
    if running is not None:
        return running
    pending = tuple(s.index for s in plan.shards if not _done(store, s.index))
    if not pending:
        return None
    forward = write_forward_file(values, options.on, state_dir("migrations", "forward"))
    command: tuple[str, ...] = (
        options.python,
        "-m",
        "portacloud.migrate.shard_worker",
        "--state",
        store.url,
        "--migration",
        plan.migration_id,
        "--shards",
        ",".join(str(i) for i in pending),
    )
    if forward is not None:
        command += ("--env-file", str(forward))
    spec = JobSpec(
        name=f"migrate-{plan.migration_id}",
        command=command,
        array=len(pending),
        retries=options.retries,
    )
    try:
        job = queue.submit(spec)
    except BaseException:
        if forward is not None:
            forward.unlink(missing_ok=True)
        raise
    run = RunRecord(
        job_id=job.id,
        on=options.on,
        shards=pending,
        forward_file=None if forward is None else str(forward),
    )
    store.write("run.json", run)
    return run


def _unfinished_keys(store: ShardState, plan: ShardPlan, spec: ShardSpec) -> list[ObjectFailure]:
    """The keys of a shard that never reported a result: from its last journal snapshot."""
    where = f"keys after {spec.key_range.after!r} up to {spec.key_range.upto!r}"
    with tempfile.TemporaryDirectory(prefix="pc-shard-") as tmp:
        path = Path(tmp) / "journal.sqlite"
        if not store.get_file(store.shard_key(spec.index, "journal.sqlite"), path):
            message = f"shard {spec.index} ({where}) never got past its plan"
            return [ObjectFailure(key=f"<shard {spec.index}>", phase=Phase.PLAN, message=message)]
        with Journal(path, src=plan.src, dst=plan.dst) as book:
            rows = book.rows(states=_UNFINISHED)
            message = f"shard {spec.index} ({where}) kept failing; not finished"
            return [
                ObjectFailure(key=row.key, phase=Phase.COPY, message=row.error or message)
                for row, _ in zip(rows, range(_MAX_LISTED), strict=False)
            ]


def _collect(
    store: ShardState,
    plan: ShardPlan,
    base: ShardedResult,
    watched: ShardsProgress,
    *,
    receipt: Path | None,
) -> ShardedResult:
    """Add up the shards' results; merge their receipts when every shard verified."""
    failures: list[ObjectFailure] = []
    copied = size = skipped = verified = 0
    for spec in plan.shards:
        result = store.read(store.shard_key(spec.index, "result.json"), MigrationResult)
        if result is None:
            failures += _unfinished_keys(store, plan, spec)
            continue
        failures += result.failures
        copied += result.copied
        size += result.bytes_copied
        skipped += result.skipped
        verified += result.verified
    update: dict[str, object] = {
        "job_id": watched.job_id,
        "shards": read_progress(store, plan),
        "copied": copied,
        "bytes_copied": size,
        "skipped": skipped,
        "verified": verified,
        "failures": tuple(failures),
    }
    if not failures:
        path = (receipt or default_receipt(plan.src, plan.dst)).absolute()
        update["receipt"], update["receipt_sha256"] = str(path), _merge(store, plan, path)
    return base.model_copy(update=update)


def _merged_lines(store: ShardState, plan: ShardPlan, tmp: Path) -> Iterator[ReceiptLine]:
    """The shards' receipt lines in key order, each key once (checked)."""
    last: str | None = None
    for spec in plan.shards:
        path = tmp / f"{spec.index}.jsonl"
        if not store.get_file(store.shard_key(spec.index, "receipt.jsonl"), path):
            raise FailedPreconditionError(
                f"shard {spec.index} verified but its receipt is missing from {store.bucket.url}",
                operation="migrate",
            )
        for line in read_receipt(path):
            if last is not None and line.key <= last:
                raise FailedPreconditionError(
                    f"the shards' receipts overlap at {line.key!r}: a key was verified twice",
                    operation="migrate",
                )
            last = line.key
            yield line


def _merge(store: ShardState, plan: ShardPlan, path: Path) -> str:
    """Write the merged receipt to ``path``; return its SHA-256."""
    with tempfile.TemporaryDirectory(prefix="pc-receipts-") as tmp:
        _, sha = write_jsonl(_merged_lines(store, plan, Path(tmp)), path)
    return sha

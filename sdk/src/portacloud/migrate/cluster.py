"""Sharded migrations: one migration run as a job array on ``local://``, ``ray://`` or ``slurm://``.

.. code-block:: python

    import portacloud.migrate.cluster as cluster

    result = cluster.migrate_on("s3://old/data", "az://new/data", on="slurm://batch", shards=8)
    assert result.ok, result.failures

The coordinator lists the source once and cuts it into key ranges of about equal work
(:mod:`portacloud.migrate.shards`), keeps that plan in the migration's state folder
(:mod:`portacloud.migrate.shard_state`), submits one array job whose task ``i`` runs
:mod:`portacloud.migrate.shard_worker` on shard ``i``, and watches the shards' progress until
the job ends. The receipt is the shards' receipts in key order, fingerprinted with one SHA-256.

The coordinator holds nothing the state folder does not: killed, it is replaced by running
the same call again, which finds the job still running (and watches it) or finished (and
resubmits only the shards that did not finish).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from portacloud.errors import InvalidArgumentError
from portacloud.migrate.endpoints import open_endpoints
from portacloud.migrate.engine import DEFAULT_CONCURRENCY, default_journal_path
from portacloud.migrate.models import ObjectFailure
from portacloud.migrate.plan import objects_of
from portacloud.migrate.shard_state import (
    RunRecord,
    ShardProgress,
    ShardState,
    check_placement,
    default_state_url,
    refuse_other_plan,
)
from portacloud.migrate.shard_watch import ShardsProgress, watch_job
from portacloud.migrate.shards import ShardPlan, cut_ranges, migration_id, shard_specs
from portacloud.profiles import Profile

__all__ = ["DEFAULT_RETRIES", "ShardedResult", "migrate_on", "shard_status"]

#: Times the job backend runs a failed shard task again.
DEFAULT_RETRIES = 2

ProgressCallback = Callable[[ShardsProgress], None]


class ShardedResult(BaseModel):
    """The outcome of :func:`migrate_on`.

    Attributes:
        src: The source URL.
        dst: The destination URL.
        on: The job queue URL.
        state: The migration's state folder.
        plan: The shards.
        dry_run: Only the shard plan was made; nothing was submitted.
        job_id: The array job of this run (``None`` for a dry run).
        shards: Each shard's last reported progress.
        copied: Objects written by the shards' last runs.
        bytes_copied: Their bytes.
        skipped: Objects already identical at the destination.
        verified: Objects verified (every key of a complete migration, once).
        failures: The keys that did not finish, with why.
        elapsed_s: Wall time of this call.
        receipt: The merged receipt, written when every shard verified.
        receipt_sha256: Its SHA-256.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    src: str
    dst: str
    on: str
    state: str
    plan: ShardPlan
    dry_run: bool = False
    job_id: str | None = None
    shards: tuple[ShardProgress, ...] = ()
    copied: int = 0
    bytes_copied: int = 0
    skipped: int = 0
    verified: int = 0
    failures: tuple[ObjectFailure, ...] = ()
    elapsed_s: float = Field(default=0.0, ge=0)
    receipt: str | None = None
    receipt_sha256: str | None = None

    @property
    def ok(self) -> bool:
        """True when every shard verified (or this was a dry run)."""
        return not self.failures


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterOptions:
    """How the shards run (the options of :func:`migrate_on` past the URLs)."""

    on: str
    shards: int = 4
    state: str | None = None
    forward_env: Sequence[str] = ()
    python: str = field(default_factory=lambda: sys.executable)
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY
    shared_state: bool = False
    receipt: Path | None = None
    poll_s: float = 1.0


def migrate_on(
    src: str,
    dst: str,
    *,
    on: str,
    shards: int = 4,
    state: str | None = None,
    forward_env: Sequence[str] = (),
    python: str | None = None,
    retries: int = DEFAULT_RETRIES,
    concurrency: int = DEFAULT_CONCURRENCY,
    dry_run: bool = False,
    shared_state: bool = False,
    receipt: str | Path | None = None,
    profile: str | Profile | None = None,
    on_progress: ProgressCallback | None = None,
) -> ShardedResult:
    """Migrate ``src`` to ``dst`` as an array job of ``shards`` tasks on the queue ``on``.

    Args:
        src: The source URL.
        dst: The destination URL.
        on: The job queue: ``local://``, ``ray://head:8265``, ``slurm://partition``.
        shards: Key ranges (tasks). A rerun keeps the ranges of the first run.
        state: Where the journals, progress and receipts of the shards live; by default the
            profile's storage under ``.portacloud/migrations``. Never inside ``src``/``dst``.
        forward_env: Names of environment variables whose values the tasks need
            (credentials); see :mod:`portacloud.migrate.forwarding` for how they travel.
        python: The interpreter the tasks run (default: this one, ``sys.executable``); it
            must have portacloud and the providers of both URLs installed on the workers.
        retries: Times the backend runs a failed task again (kill -9, a lost node...).
        concurrency: Objects each task copies at a time.
        dry_run: List the source and report the shard plan; submit nothing, write nothing.
        shared_state: A ``file://`` state is on a filesystem every worker mounts.
        receipt: The merged receipt file (default: beside the single-process journal, suffix
            ``.shards.receipt.jsonl``).
        profile: The profile whose region policy and storage apply.
        on_progress: Called with the shards' progress about every second.

    Returns:
        What happened; ``result.ok`` is False when a shard kept failing (the failures name
        its keys) and the rest is kept: rerunning continues with what did not finish.
    """
    options = ClusterOptions(
        on=on,
        shards=shards,
        state=state,
        forward_env=tuple(forward_env),
        python=python or sys.executable,
        retries=retries,
        concurrency=concurrency,
        shared_state=shared_state,
        receipt=None if receipt is None else Path(receipt),
    )
    from portacloud.migrate.shard_run import run_sharded

    return run_sharded(src, dst, options, dry_run=dry_run, profile=profile, sink=on_progress)


def resolve_profile(profile: str | Profile | None) -> Profile:
    """The profile object (a name is loaded once)."""
    from portacloud.profiles import load_profile

    if isinstance(profile, Profile):
        return profile
    return load_profile(profile)


def open_state(
    src: str, dst: str, state: str | None, profile: Profile, *, create: bool = True
) -> tuple[ShardState, str]:
    """Open the state folder of the (src, dst) migration; returns it and the state URL."""
    url = state or default_state_url(profile)
    check_placement(url, src, dst)
    return ShardState(url, migration_id(src, dst), profile=profile, create=create), url


def make_plan(
    src: str, dst: str, *, shards: int, concurrency: int, dry_run: bool, profile: Profile
) -> ShardPlan:
    """List the source once and cut it into ``shards`` ranges of about equal work."""
    if not isinstance(shards, int) or isinstance(shards, bool) or shards < 1:
        raise InvalidArgumentError(f"shards must be an int >= 1, not {shards!r}")
    ends = open_endpoints(src, dst, dry_run=dry_run, profile=profile)
    try:
        # Sorted here: some backends list in their own order (SeaweedFS: file-tree order).
        entries = sorted((o.key, o.size) for o in objects_of(ends.src))
        ranges = cut_ranges(entries, shards)
        specs = shard_specs(
            entries, ranges, src_provider=ends.src.provider, dst_provider=ends.dst.provider
        )
    finally:
        ends.close()
    return ShardPlan(
        migration_id=migration_id(src, dst),
        src=src,
        dst=dst,
        shards=specs,
        concurrency=concurrency,
    )


def stored_or_new_plan(
    store: ShardState,
    src: str,
    dst: str,
    options: ClusterOptions,
    *,
    dry_run: bool,
    profile: Profile,
) -> ShardPlan:
    """The plan a first run stored (reruns keep their ranges), else a new one (stored unless
    ``dry_run``)."""
    plan = store.read("plan.json", ShardPlan)
    if plan is not None:
        refuse_other_plan(plan.src, plan.dst, src, dst)
        return plan
    plan = make_plan(
        src,
        dst,
        shards=options.shards,
        concurrency=options.concurrency,
        dry_run=dry_run,
        profile=profile,
    )
    if not dry_run:
        store.write("plan.json", plan)
    return plan


def default_receipt(src: str, dst: str) -> Path:
    """Where the merged receipt goes by default."""
    return default_journal_path(src, dst).with_suffix(".shards.receipt.jsonl").absolute()


def shard_status(
    src: str, dst: str, *, state: str | None = None, profile: str | Profile | None = None
) -> ShardsProgress | None:
    """Where a sharded migration stands, from its state folder (``migrate --status``).

    Returns:
        The shards' progress and the job's state, or ``None`` when no sharded migration of
        ``src`` to ``dst`` was started with this state.
    """
    chosen = resolve_profile(profile)
    store, _ = open_state(src, dst, state, chosen, create=False)
    try:
        plan = store.read("plan.json", ShardPlan)
        if plan is None:
            return None
        run = store.read("run.json", RunRecord)
        if run is None:
            return watch_job(store, plan, queue=None, job_id=None, once=True)
        from portacloud.openers import open_jobs

        with open_jobs(run.on, profile=chosen) as queue:
            return watch_job(store, plan, queue=queue, job_id=run.job_id, once=True)
    finally:
        store.close()

"""One task of a sharded migration: the existing engine, run on one key range.

Run by the job backend as ``python -m portacloud.migrate.shard_worker --state URL --migration
ID --shards 0,1,2,3`` (task ``i`` takes shard ``shards[PORTACLOUD_TASK_INDEX]``). The task
fetches its shard's journal snapshot from the state folder, when an earlier attempt left one,
and runs :func:`portacloud.migrate.migrate` on its range with that journal: what an earlier
attempt verified is not copied again, and what it wrote but did not record is found identical
by the plan's checksum comparison. While it runs, a thread uploads the journal and the progress
every few seconds; at the end it uploads the receipt and the result. It exits 0 when its range
is complete and verified, 3 when keys failed (so the backend retries it), 2 on an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from portacloud.errors import PortaCloudError
from portacloud.migrate.engine import migrate_range
from portacloud.migrate.models import MigrationEvent, MigrationPlan, MigrationResult, Phase
from portacloud.migrate.shard_state import ShardProgress, ShardState
from portacloud.migrate.shards import ShardPlan

__all__ = ["main"]

#: Seconds between uploads of the journal snapshot and the progress.
SYNC_EVERY_S = 2.0
#: The exit code of a task whose range has keys that failed.
EXIT_KEYS_FAILED = 3

_STATE_OF_PHASE = {Phase.PLAN: "planning", Phase.COPY: "copying", Phase.VERIFY: "verifying"}


class _Reporter:
    """Counts the engine's events and uploads progress and journal snapshots."""

    def __init__(self, state: ShardState, index: int, journal: Path, attempt: int) -> None:
        self.state = state
        self.journal = journal
        self.lock = threading.Lock()
        self.progress = ShardProgress(index=index, state="planning", attempt=attempt)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="shard-sync", daemon=True)

    def __call__(self, event: MigrationEvent) -> None:
        update: dict[str, object]
        with self.lock:
            p = self.progress
            if event.kind == "plan" and event.message:
                plan = MigrationPlan.model_validate_json(event.message)
                total = plan.transfer.objects + plan.skips.objects
                size = plan.transfer.bytes + plan.skips.bytes
                update = {"objects_total": total, "bytes_total": size}
                update |= {"objects": plan.skips.objects, "bytes": plan.skips.bytes}
            elif event.kind == "phase" and event.phase in _STATE_OF_PHASE:
                update = {"state": _STATE_OF_PHASE[event.phase]}
            elif event.kind == "object" and event.phase is Phase.COPY:
                update = {"objects": p.objects + event.objects, "bytes": p.bytes + event.bytes}
            elif event.kind == "bytes" and event.phase is Phase.COPY:
                update = {"bytes": p.bytes + event.bytes}
            else:
                return
            self.progress = p.model_copy(update=update)

    def _loop(self) -> None:
        while not self.stop.wait(SYNC_EVERY_S):
            self.sync()

    def sync(self) -> None:
        """Upload the progress and a consistent snapshot of the journal."""
        with self.lock:
            progress = self.progress
        try:
            self.state.write(self.state.shard_key(progress.index, "progress.json"), progress)
            if self.journal.exists():
                snapshot = self.journal.with_name("snapshot.sqlite")
                _snapshot(self.journal, snapshot)
                self.state.put_file(
                    self.state.shard_key(progress.index, "journal.sqlite"), snapshot
                )
        except (PortaCloudError, OSError, sqlite3.Error) as exc:
            # A missed upload costs a re-check of a few objects on the next attempt, not the run.
            print(f"shard {progress.index}: could not save progress: {exc}", file=sys.stderr)

    def finish(self, state: str, *, failed: int = 0) -> None:
        self.stop.set()
        self.thread.join()
        with self.lock:
            self.progress = self.progress.model_copy(update={"state": state, "failed": failed})
        self.sync()


def _snapshot(journal: Path, target: Path) -> None:
    """Copy the committed state of a journal in use (SQLite's online backup)."""
    target.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m portacloud.migrate.shard_worker")
    parser.add_argument("--state", required=True, help="The state URL.")
    parser.add_argument("--migration", required=True, help="The migration id.")
    parser.add_argument("--shards", required=True, help="Shard of each task index, 0,1,...")
    parser.add_argument("--env-file", help="Forwarded variables to load (ray://).")
    return parser.parse_args(argv)


def run_shard(state: ShardState, plan: ShardPlan, index: int, workdir: Path) -> MigrationResult:
    """Run the engine on shard ``index`` with its journal, syncing it to ``state``."""
    spec = plan.shards[index]
    journal = workdir / "journal.sqlite"
    state.get_file(state.shard_key(index, "journal.sqlite"), journal)
    before = state.read(state.shard_key(index, "progress.json"), ShardProgress)
    attempt = (before.attempt if before is not None else 0) + 1
    state.clear_shard(index)
    reporter = _Reporter(state, index, journal, attempt)
    reporter.sync()
    reporter.thread.start()
    try:
        result = migrate_range(
            plan.src,
            plan.dst,
            spec.key_range,
            journal=journal,
            receipt=workdir / "receipt.jsonl",
            concurrency=plan.concurrency,
            on_event=reporter,
        )
    except BaseException:
        reporter.finish("failed")
        raise
    if result.receipt is not None:
        state.put_file(state.shard_key(index, "receipt.jsonl"), Path(result.receipt))
    state.write(state.shard_key(index, "result.json"), result)
    reporter.finish("done" if result.ok else "failed", failed=len(result.failures))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the shard of this task; see the module docstring for the exit codes."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    shards = [int(s) for s in args.shards.split(",")]
    task = int(os.environ.get("PORTACLOUD_TASK_INDEX", "0"))
    workdir = Path(tempfile.mkdtemp(prefix="pc-shard-"))
    try:
        if args.env_file:
            from portacloud.migrate.forwarding import load_forwarded

            load_forwarded(args.env_file)
        state = ShardState(args.state, args.migration)
        try:
            plan = state.read("plan.json", ShardPlan)
            if plan is None:
                print(f"no plan in {args.state}/{args.migration}", file=sys.stderr)
                return 2
            result = run_shard(state, plan, shards[task], workdir)
        finally:
            state.close()
    except PortaCloudError as exc:
        print(f"shard task {task}: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"shard {shards[task]}: copied {result.copied}, skipped {result.skipped}, "
        f"verified {result.verified}, failed {len(result.failures)}"
    )
    return 0 if result.ok else EXIT_KEYS_FAILED


if __name__ == "__main__":
    sys.exit(main())

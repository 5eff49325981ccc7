"""The SQLite database behind ``local://`` jobs, shared by the CLI, the API and supervisors.

Every process that touches a local queue (the submitting program, the ``portacloud jobs`` CLI,
and one supervisor process per task) opens the same database in WAL mode. GPU allocation runs
in ``BEGIN IMMEDIATE`` transactions, so two supervisors can never take the same GPU.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from portacloud.errors import FailedPreconditionError, NotFoundError
from portacloud.jobs.models import JobReason, JobSpec, JobState, JobStatus, TaskStatus
from portacloud.private_files import private_dir, private_sqlite

__all__ = ["STARTUP_GRACE", "LocalJobStore", "TaskRow", "pid_alive"]

#: Seconds a supervisor may take to report in before its task counts as lost.
STARTUP_GRACE = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    env TEXT NOT NULL,
    output_uri TEXT,
    submitted_at REAL NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    message TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    exit_code INTEGER,
    attempt INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    ended_at REAL,
    supervisor_pid INTEGER,
    pgid INTEGER,
    gpus_needed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS gpu_alloc (
    gpu INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task as stored."""

    job_id: str
    idx: int
    state: JobState
    reason: JobReason | None
    exit_code: int | None
    attempt: int
    started_at: float | None
    ended_at: float | None
    supervisor_pid: int | None
    pgid: int | None


class LocalJobStore:
    """Jobs, tasks, GPU allocations and queue settings of one local queue."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)
        # The jobs table holds every job's environment, where users put their tokens.
        private_sqlite(path)
        db = sqlite3.connect(path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)  # commits on its own
            columns = {row[1] for row in db.execute("PRAGMA table_info(tasks)")}
            if "gpus_needed" not in columns:  # a queue created by 0.1.0 before FIFO scheduling
                db.execute("ALTER TABLE tasks ADD COLUMN gpus_needed INTEGER NOT NULL DEFAULT 0")
                db.commit()
        finally:
            db.close()

    @contextmanager
    def _connect(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # ------------------------------------------------------------------ config

    def set_inventory(self, gpus: Sequence[int]) -> None:
        """Record the queue's GPU indices for supervisors to allocate from."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO config(name, value) VALUES ('gpus', ?)",
                (json.dumps(list(gpus)),),
            )

    def inventory(self) -> list[int]:
        """The queue's GPU indices (empty when it has none)."""
        with self._connect() as db:
            row = db.execute("SELECT value FROM config WHERE name = 'gpus'").fetchone()
        return [int(g) for g in json.loads(row[0])] if row else []

    # ------------------------------------------------------------------ jobs

    def create(
        self,
        job_id: str,
        spec: JobSpec,
        *,
        env: dict[str, str],
        output_uri: str,
        failed: tuple[JobReason, str] | None = None,
    ) -> None:
        """Insert a job and its tasks (PENDING, or FAILED with a reason when it can never run)."""
        now = time.time()
        state, reason, message = JobState.PENDING, None, None
        if failed is not None:
            state, (reason, message) = JobState.FAILED, failed
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs(id, name, spec, env, output_uri, submitted_at, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    spec.name,
                    spec.model_dump_json(),
                    json.dumps(env),
                    output_uri,
                    now,
                    message,
                ),
            )
            db.executemany(
                "INSERT INTO tasks(job_id, idx, state, reason, ended_at, gpus_needed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        job_id,
                        i,
                        state.value,
                        reason.value if reason else None,
                        now if failed else None,
                        spec.resources.gpu_count,
                    )
                    for i in range(spec.tasks)
                ],
            )

    def job_spec(self, job_id: str) -> tuple[JobSpec, dict[str, str]]:
        """The spec and environment a job was submitted with."""
        with self._connect() as db:
            row = db.execute("SELECT spec, env FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError("no such job", resource=job_id)
        return JobSpec.model_validate_json(row[0]), json.loads(row[1])

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked to cancel the job."""
        with self._connect() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def request_cancel(self, job_id: str) -> list[TaskRow]:
        """Flag a job as cancelled; return its tasks so running ones can be signalled."""
        with self._connect(immediate=True) as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise NotFoundError("no such job", resource=job_id)
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
        return self.tasks(job_id)

    # ------------------------------------------------------------------ tasks

    def tasks(self, job_id: str) -> list[TaskRow]:
        """The job's tasks in index order."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT job_id, idx, state, reason, exit_code, attempt, started_at, ended_at, "
                "supervisor_pid, pgid FROM tasks WHERE job_id = ? ORDER BY idx",
                (job_id,),
            ).fetchall()
        return [
            TaskRow(r[0], r[1], JobState(r[2]), JobReason(r[3]) if r[3] else None, *r[4:])
            for r in rows
        ]

    def update_task(self, job_id: str, idx: int, **fields: object) -> None:
        """Set columns of one task (states and reasons are given as enums)."""
        values = [v.value if isinstance(v, JobState | JobReason) else v for v in fields.values()]
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._connect() as db:
            db.execute(
                f"UPDATE tasks SET {assignments} WHERE job_id = ? AND idx = ?",  # noqa: S608 - column names are ours
                (*values, job_id, idx),
            )

    def finish_task_if_active(self, job_id: str, idx: int, reason: JobReason, message: str) -> None:
        """Mark a task whose supervisor vanished as FAILED, unless it already ended."""
        now = time.time()
        with self._connect(immediate=True) as db:
            db.execute(
                "UPDATE tasks SET state = ?, reason = ?, ended_at = ? "
                "WHERE job_id = ? AND idx = ? AND state NOT IN (?, ?, ?)",
                (
                    JobState.FAILED.value,
                    reason.value,
                    now,
                    job_id,
                    idx,
                    "SUCCEEDED",
                    "FAILED",
                    "CANCELLED",
                ),
            )
            db.execute(
                "UPDATE jobs SET message = ? WHERE id = ? AND message IS NULL", (message, job_id)
            )
            db.execute("DELETE FROM gpu_alloc WHERE job_id = ? AND idx = ?", (job_id, idx))

    def note(self, job_id: str, message: str) -> None:
        """Record why the job ended, unless an earlier explanation stands."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET message = ? WHERE id = ? AND message IS NULL", (message, job_id)
            )

    # ------------------------------------------------------------------ GPUs

    def try_allocate(
        self, job_id: str, idx: int, count: int, inventory: Sequence[int]
    ) -> list[int] | None:
        """Take ``count`` free GPUs for a task atomically; ``None`` if it must wait.

        GPUs go to waiting tasks in submission order (first in, first out, no backfill), so a
        large job is never starved by a stream of small ones.
        """
        if count == 0:
            return []
        with self._connect(immediate=True) as db:
            if self._older_task_waiting(db, job_id, idx):
                return None
            taken = {r[0] for r in db.execute("SELECT gpu FROM gpu_alloc")}
            free = [g for g in inventory if g not in taken]
            if len(free) < count:
                return None
            chosen = free[:count]
            db.executemany(
                "INSERT INTO gpu_alloc(gpu, job_id, idx) VALUES (?, ?, ?)",
                [(g, job_id, idx) for g in chosen],
            )
        return chosen

    @staticmethod
    def _older_task_waiting(db: sqlite3.Connection, job_id: str, idx: int) -> bool:
        """Whether a live task submitted before this one still waits for GPUs."""
        rows = db.execute(
            "SELECT t.supervisor_pid, j.submitted_at FROM tasks t JOIN jobs j ON j.id = t.job_id "
            "JOIN jobs me ON me.id = ? "
            "WHERE t.state = 'PENDING' AND t.gpus_needed > 0 AND j.cancel_requested = 0 "
            "AND (j.submitted_at < me.submitted_at "
            "     OR (j.submitted_at = me.submitted_at AND (t.job_id < ? "
            "         OR (t.job_id = ? AND t.idx < ?)))) "
            "AND NOT EXISTS "
            "(SELECT 1 FROM gpu_alloc a WHERE a.job_id = t.job_id AND a.idx = t.idx)",
            (job_id, job_id, job_id, idx),
        ).fetchall()
        now = time.time()
        # A supervisor that died (or never started) must not block the queue forever.
        return any(
            pid_alive(pid) if pid else now - submitted < STARTUP_GRACE for pid, submitted in rows
        )

    def release(self, job_id: str, idx: int) -> None:
        """Give back the task's GPUs."""
        with self._connect() as db:
            db.execute("DELETE FROM gpu_alloc WHERE job_id = ? AND idx = ?", (job_id, idx))

    def delete(self, job_id: str) -> None:
        """Forget an ended job: its row, its tasks and any GPU it still holds.

        Raises:
            NotFoundError: no such job.
            FailedPreconditionError: a task has not ended (a supervisor still writes to it).
        """
        with self._connect(immediate=True) as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise NotFoundError("no such job", resource=job_id)
            states = db.execute("SELECT state FROM tasks WHERE job_id = ?", (job_id,))
            active = [s for (s,) in states if not JobState(s).terminal]
            if active:
                raise FailedPreconditionError("has not ended; cancel it first", resource=job_id)
            db.execute("DELETE FROM gpu_alloc WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM tasks WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # ------------------------------------------------------------------ status

    def job_ids(self) -> list[str]:
        """Every job id, newest first."""
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT id FROM jobs ORDER BY submitted_at DESC")]

    def status(self, job_id: str) -> JobStatus:
        """Combine the job's tasks into one portable status."""
        with self._connect() as db:
            row = db.execute(
                "SELECT name, output_uri, submitted_at, cancel_requested, message "
                "FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError("no such job", resource=job_id)
        name, output_uri, submitted_at, cancel_requested, message = row
        tasks = self.tasks(job_id)
        state, reason, exit_code = _combine(tasks, bool(cancel_requested))
        starts = [t.started_at for t in tasks if t.started_at is not None]
        ends = [t.ended_at for t in tasks if t.ended_at is not None]
        return JobStatus(
            id=job_id,
            name=name,
            state=state,
            reason=reason,
            message=message,
            exit_code=exit_code,
            attempt=max((t.attempt for t in tasks), default=0),
            submitted_at=_utc(submitted_at),
            started_at=_utc(min(starts)) if starts else None,
            ended_at=_utc(max(ends)) if state.terminal and ends else None,
            output_uri=output_uri,
            tasks=tuple(
                TaskStatus(
                    index=t.idx,
                    state=t.state,
                    reason=t.reason,
                    exit_code=t.exit_code,
                    attempt=t.attempt,
                )
                for t in tasks
            )
            if len(tasks) > 1
            else (),
        )


def _combine(
    tasks: list[TaskRow], cancel_requested: bool
) -> tuple[JobState, JobReason | None, int | None]:
    """The job's state from its tasks': any failure fails it, all successes succeed it."""
    states = {t.state for t in tasks}
    if all(s.terminal for s in states):
        for wanted in (JobState.FAILED, JobState.CANCELLED):
            first = next((t for t in tasks if t.state == wanted), None)
            if first is not None:
                return wanted, first.reason, first.exit_code
        return JobState.SUCCEEDED, None, tasks[-1].exit_code if tasks else None
    if cancel_requested:
        return JobState.CANCELLING, None, None
    for candidate in (JobState.RUNNING, JobState.STARTING):
        if candidate in states:
            return candidate, None, None
    return JobState.PENDING, None, None


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (and is not a zombie we could reap)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True

"""One job's portable status, composed from Slurm's records and the batch script's reports.

Slurm knows a job while its controller remembers it (``scontrol``) and, with accounting, after
(``sacct``); the batch script portacloud wrote knows attempts, timeouts and the command's exit
status. Each task's outcome comes from both (:func:`task_outcomes`); the job's from its tasks'
(:func:`compose_status`): any failure fails it, all successes succeed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from portacloud.jobs.image_failures import image_failure, image_reason
from portacloud.jobs.models import JobReason, JobState, JobStatus, TaskStatus
from portacloud_slurm.commands import JobRecord
from portacloud_slurm.files import JobMeta
from portacloud_slurm.script import read_report
from portacloud_slurm.states import AttemptReport, TaskOutcome, slurm_state, task_outcome

__all__ = ["TaskView", "compose_status", "epoch", "task_outcomes"]

#: One task: its outcome, Slurm's record of it and the batch script's report, when there are.
TaskView = tuple[TaskOutcome, JobRecord | None, AttemptReport | None]


def epoch(ts: float | None) -> datetime | None:
    """A POSIX timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _index_records(
    records: Sequence[JobRecord], *, array: bool
) -> tuple[dict[int, JobRecord], JobRecord | None]:
    """Records by task index, and one that does not say which task it is."""
    indexed: dict[int, JobRecord] = {}
    loose: JobRecord | None = None
    for rec in records:
        if rec.task_ids is not None:
            indexed.update(dict.fromkeys(rec.task_ids, rec))
        elif not array:
            indexed[0] = rec
        else:
            loose = rec
    return indexed, loose


def task_outcomes(
    job_dir: Path | None,
    meta: JobMeta | None,
    records: Sequence[JobRecord],
    *,
    live: bool,
) -> list[TaskView]:
    """Every task's outcome, from Slurm's records and the batch script's reports.

    Args:
        job_dir: The job's directory, when portacloud submitted it.
        meta: Its ``job.json``.
        records: Slurm's records of the job (array tasks included).
        live: Whether the records are the controller's (complete) view.
    """
    array = meta.array if meta else any(r.array_job_id for r in records)
    indexed, loose = _index_records(records, array=array)
    count = meta.tasks if meta else max([*indexed, 0]) + 1
    ours = meta is not None
    outcomes: list[TaskView] = []
    for index in range(count):
        record = indexed.get(index)
        report = read_report(job_dir, index) if job_dir is not None else None
        if record is not None:
            outcome = task_outcome(
                record.state,
                reason=record.reason,
                exit_code=record.exit_code,
                restarts=record.restarts,
                report=report,
                ours=ours,
            )
        elif report is not None and report.finished:
            outcome = task_outcome(None, report=report)
        elif records and array and (live or _cancelled(loose)):
            # Slurm drops an array task that was cancelled before it started.
            outcome = task_outcome("CANCELLED", report=report, ours=ours)
        else:
            outcome = task_outcome(None, report=report)
        outcomes.append((outcome, record, report))
    return outcomes


def compose_status(
    job_id: str,
    meta: JobMeta | None,
    records: Sequence[JobRecord],
    tasks: Sequence[TaskView],
    *,
    cancelling: bool,
    gave_up_at: datetime | None,
) -> JobStatus:
    """The job's status from its tasks'.

    Args:
        job_id: Slurm's job id.
        meta: The job's ``job.json``, when portacloud submitted it.
        records: Slurm's records of the job.
        tasks: What :func:`task_outcomes` found (after any verdict of the driver).
        cancelling: Whether portacloud asked Slurm to cancel it.
        gave_up_at: When the driver gave up on a job Slurm can never start.
    """
    outcomes = [o for o, _, _ in tasks]
    state, reason, exit_code, message = _combine(outcomes, cancelling=cancelling)
    why = image_failure(meta.image if meta else None, exit_code)
    if why is not None and reason is JobReason.USER_ERROR:
        reason, message = JobReason.INFRA_ERROR, why
    starts = [s for s in (_started(*t) for t in tasks) if s is not None]
    ends = [e for e in (_ended(*t) for t in tasks) if e is not None]
    if reason is JobReason.NO_CAPACITY and gave_up_at is not None:
        ends = [gave_up_at]  # it ended when the driver gave up on it
    submitted = epoch(meta.submitted_at) if meta else None
    if submitted is None:
        submitted = min((r.submitted_at for r in records if r.submitted_at), default=None)
    return JobStatus(
        id=job_id,
        name=meta.name if meta else (records[0].name if records else job_id),
        state=state,
        reason=reason,
        message=message,
        exit_code=exit_code,
        attempt=max((o.attempt for o in outcomes), default=0),
        submitted_at=submitted,
        started_at=min(starts) if starts else None,
        ended_at=max(ends) if state.terminal and ends else None,
        output_uri=meta.output_uri if meta else None,
        tasks=_task_statuses(outcomes, meta.image if meta else None),
    )


def _task_statuses(outcomes: Sequence[TaskOutcome], image: str | None) -> tuple[TaskStatus, ...]:
    if len(outcomes) <= 1:
        return ()
    return tuple(
        TaskStatus(
            index=i,
            state=o.state,
            reason=image_reason(image, o.reason, o.exit_code),
            exit_code=o.exit_code,
            attempt=o.attempt,
        )
        for i, o in enumerate(outcomes)
    )


def _cancelled(record: JobRecord | None) -> bool:
    return record is not None and slurm_state(record.state) == "CANCELLED"


def _started(
    outcome: TaskOutcome, record: JobRecord | None, report: AttemptReport | None
) -> datetime | None:
    if report is not None and report.started_at is not None:
        return epoch(report.started_at)
    if record is not None and outcome.attempt > 0:
        return record.started_at
    return None


def _ended(
    outcome: TaskOutcome, record: JobRecord | None, report: AttemptReport | None
) -> datetime | None:
    if not outcome.state.terminal:
        return None
    if report is not None and report.finished and report.ended_at is not None:
        return epoch(report.ended_at)
    if record is not None and record.ended_at is not None:
        return record.ended_at
    return None


def _combine(
    outcomes: Sequence[TaskOutcome], *, cancelling: bool
) -> tuple[JobState, JobReason | None, int | None, str | None]:
    """The job's state from its tasks': any failure fails it, all successes succeed it."""
    states = {o.state for o in outcomes}
    if outcomes and all(s.terminal for s in states):
        for wanted in (JobState.FAILED, JobState.CANCELLED):
            first = next((o for o in outcomes if o.state is wanted), None)
            if first is not None:
                return wanted, first.reason, first.exit_code, first.message
        return JobState.SUCCEEDED, None, outcomes[-1].exit_code, None
    if cancelling:
        return JobState.CANCELLING, None, None, None
    for candidate in (JobState.RUNNING, JobState.STARTING, JobState.PENDING):
        if candidate in states:
            waiting = next((o.message for o in outcomes if o.state is candidate), None)
            return candidate, None, None, waiting
    return JobState.UNKNOWN, None, None, next((o.message for o in outcomes if o.message), None)

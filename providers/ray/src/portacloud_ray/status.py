"""A Ray job's details and log, translated into a portable :class:`JobStatus`.

Pure functions of what the Jobs API returned (``JobDetails`` and the log text) and of the
cancel portacloud may have recorded, so the whole translation is testable without a cluster.
The state itself comes from the one table in :mod:`portacloud_ray.states`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portacloud.jobs.image_failures import image_failure, image_reason
from portacloud.jobs.models import JobReason, JobState, JobStatus, TaskStatus
from portacloud_ray.logs import ParsedLog, parse_log
from portacloud_ray.runner import OUTCOME_CANCELLED, OUTCOME_EXITED, OUTCOME_SIGNALLED
from portacloud_ray.states import (
    Evidence,
    RayStatus,
    evidence_for_attempt,
    evidence_for_ray_failure,
    map_state,
)

if TYPE_CHECKING:
    from ray.job_submission import JobDetails

__all__ = [
    "META_GPUS",
    "META_IMAGE",
    "META_NAME",
    "META_NONCE",
    "META_OUTPUT_URI",
    "META_RETRIES",
    "META_TASKS",
    "META_TIMEOUT",
    "CancelRecord",
    "is_portacloud_job",
    "parse_job_log",
    "status_from_ray",
]

#: Job metadata keys (Ray keeps string values only).
META_NAME = "portacloud.name"
META_OUTPUT_URI = "portacloud.output_uri"
META_RETRIES = "portacloud.retries"
META_TIMEOUT = "portacloud.timeout"
META_TASKS = "portacloud.tasks"
META_GPUS = "portacloud.gpus"
META_NONCE = "portacloud.nonce"
META_IMAGE = "portacloud.image"

_MESSAGE_LIMIT = 2000


@dataclass(frozen=True)
class CancelRecord:
    """A cancel portacloud asked for.

    Attributes:
        before_start: Ray had not placed the job yet (it was PENDING).
        at: When (seconds since the epoch).
    """

    before_start: bool
    at: float


def is_portacloud_job(details: JobDetails) -> bool:
    """Whether portacloud submitted the job (it runs under the runner and has a nonce)."""
    return bool((details.metadata or {}).get(META_NONCE))


def _count(meta: dict[str, str], key: str, default: int) -> int:
    try:
        return int(meta.get(key) or default)
    except ValueError:
        return default


def parse_job_log(details: JobDetails, raw: str, *, task: int | None = None) -> ParsedLog:
    """Take the log of a portacloud job apart (see :func:`portacloud_ray.logs.parse_log`);
    ``task``: keep only that task's output."""
    meta = details.metadata or {}
    drop = [f"Running entrypoint for job {details.submission_id}: {details.entrypoint}"]
    return parse_log(
        raw,
        nonce=meta.get(META_NONCE, ""),
        prefix_tasks=_count(meta, META_TASKS, 1) > 1,
        drop=drop,
        task=task,
    )


def _utc(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC)


def _utc_seconds(seconds: object) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if isinstance(seconds, int | float) else None


@dataclass
class _Task:
    """One task's progress as the runner's markers tell it."""

    index: int
    attempt: int = 0
    started: float | None = None
    ended: bool = False  # the last allowed attempt ended, or one succeeded
    outcome: str | None = None
    exit_code: int | None = None
    signal: int | None = None


def _tasks_from(events: tuple[dict[str, Any], ...], count: int, retries: int) -> list[_Task]:
    tasks = [_Task(index=i) for i in range(count)]
    for event in events:
        index = event.get("task")
        if not isinstance(index, int) or not 0 <= index < count:
            continue
        task = tasks[index]
        attempt = event.get("attempt")
        attempt = attempt if isinstance(attempt, int) else task.attempt
        if event.get("event") == "start":
            task.attempt = attempt
            if task.started is None and isinstance(event.get("t"), int | float):
                task.started = float(event["t"])
        elif event.get("event") == "end":
            task.attempt = attempt
            task.outcome = str(event.get("outcome"))
            code = event.get("exit_code")
            task.exit_code = code if isinstance(code, int) else None
            sig = event.get("signal")
            task.signal = sig if isinstance(sig, int) else None
            succeeded = task.outcome == OUTCOME_EXITED and task.exit_code == 0
            task.ended = succeeded or attempt > retries or task.outcome == OUTCOME_CANCELLED
    return tasks


def status_from_ray(details: JobDetails, raw: str, *, cancel: CancelRecord | None) -> JobStatus:
    """The portable status of a Ray job.

    Args:
        details: What ``get_job_info`` (or ``list_jobs``) returned.
        raw: The job's log (``get_job_logs``); ignored for jobs portacloud did not submit.
        cancel: The cancel portacloud recorded for the job, if any.
    """
    job_id = details.submission_id or details.job_id or ""
    meta = details.metadata or {}
    ours = is_portacloud_job(details)
    ray_status = RayStatus(str(details.status.value))
    parsed = parse_job_log(details, raw) if ours else None
    count = _count(meta, META_TASKS, 1)
    retries = _count(meta, META_RETRIES, 0)
    tasks = _tasks_from(parsed.events, count, retries) if parsed else []
    evidence, failed_task = _evidence(ray_status, details, parsed, tasks, cancel)
    state, reason = map_state(ray_status, evidence)
    exit_code, message = _exit_and_message(
        state, reason, details, failed_task, ours=ours, retries=retries
    )
    why = image_failure(meta.get(META_IMAGE), failed_task.exit_code if failed_task else None)
    if why is not None and reason is JobReason.USER_ERROR:
        reason, message = JobReason.INFRA_ERROR, why
    if evidence is Evidence.CANCELLED_BEFORE_START:
        message = "cancelled before Ray placed the job; Ray stops it if it ever places it"
    ended_at = _utc(details.end_time) if state.terminal else None
    if state.terminal and ended_at is None and cancel is not None:
        ended_at = _utc_seconds(cancel.at)
    starts = [t.started for t in tasks if t.started is not None]
    return JobStatus(
        id=job_id,
        name=meta.get(META_NAME) or meta.get("job_name") or job_id,
        state=state,
        reason=reason,
        message=message,
        exit_code=exit_code,
        attempt=max((t.attempt for t in tasks), default=0),
        submitted_at=_utc(details.start_time),
        started_at=_utc_seconds(min(starts)) if starts else None,
        ended_at=ended_at,
        output_uri=meta.get(META_OUTPUT_URI) or None,
        tasks=_task_statuses(tasks, state, reason, ray_status, meta.get(META_IMAGE))
        if count > 1
        else (),
    )


def _evidence(  # noqa: PLR0911 - one return per kind of evidence
    ray_status: RayStatus,
    details: JobDetails,
    parsed: ParsedLog | None,
    tasks: list[_Task],
    cancel: CancelRecord | None,
) -> tuple[Evidence, _Task | None]:
    """Reduce everything known about the job to one piece of evidence for the table."""
    if cancel is not None and cancel.before_start:
        return Evidence.CANCELLED_BEFORE_START, None
    if ray_status in (RayStatus.PENDING, RayStatus.RUNNING, RayStatus.SUCCEEDED):
        if cancel is not None:
            return Evidence.CANCEL_REQUESTED, None
        began = ray_status is RayStatus.RUNNING and (parsed is None or parsed.began)
        return (Evidence.RUNNER_BEGAN if began else Evidence.NONE), None
    if ray_status is RayStatus.STOPPED:
        return Evidence.NONE, None
    ray_failure = evidence_for_ray_failure(
        str(details.error_type) if details.error_type else None, details.message
    )
    if ray_failure is not None:
        return ray_failure, None
    if parsed is None:
        # Not a portacloud job: its entrypoint is the user's command itself.
        return Evidence.EXITED, None
    names = [e.get("event") for e in parsed.events]
    if "stopped" in names:
        return Evidence.STOPPED, None
    if "done" not in names:
        return Evidence.RUNNER_LOST, None
    failed = next(
        (t for t in tasks if t.ended and not (t.outcome == OUTCOME_EXITED and t.exit_code == 0)),
        None,
    )
    if failed is None:
        return Evidence.RUNNER_LOST, None
    return evidence_for_attempt(failed.outcome or "", failed.exit_code, failed.signal), failed


def _exit_and_message(
    state: JobState,
    reason: JobReason | None,
    details: JobDetails,
    failed: _Task | None,
    *,
    ours: bool,
    retries: int,
) -> tuple[int | None, str | None]:
    if state is JobState.SUCCEEDED:
        return 0, None
    if failed is not None:
        what = {
            JobReason.TIMEOUT: "ran past its timeout and was killed",
            JobReason.OOM: "was killed by SIGKILL (out of memory)",
        }.get(reason or JobReason.USER_ERROR, f"exited with code {failed.exit_code}")
        if failed.outcome == OUTCOME_SIGNALLED and reason is JobReason.USER_ERROR:
            what = f"was killed by signal {failed.signal}"
        return failed.exit_code, (
            f"task {failed.index} attempt {failed.attempt} of {retries + 1} {what}"
        )
    message = (details.message or None) if state.terminal else None
    if message and len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 3] + "..."
    if state is JobState.CANCELLED and message is None:
        message = "cancelled"
    exit_code = details.driver_exit_code if not ours and state is JobState.FAILED else None
    return exit_code, message


def _task_statuses(
    tasks: list[_Task],
    state: JobState,
    reason: JobReason | None,
    ray_status: RayStatus,
    image: str | None,
) -> tuple[TaskStatus, ...]:
    result = []
    for task in tasks:
        if task.ended and task.outcome == OUTCOME_EXITED and task.exit_code == 0:
            t_state, t_reason = JobState.SUCCEEDED, None
        elif task.ended:
            evidence = evidence_for_attempt(task.outcome or "", task.exit_code, task.signal)
            t_state, t_reason = map_state(RayStatus.FAILED, evidence)
        elif state.terminal:
            # Never finished: stopped with the job, or lost with the runner.
            t_state, t_reason = state, reason
        elif task.attempt:
            t_state, t_reason = map_state(ray_status, Evidence.RUNNER_BEGAN)
        else:
            t_state, t_reason = JobState.PENDING, None
        result.append(
            TaskStatus(
                index=task.index,
                state=t_state,
                reason=image_reason(image, t_reason, task.exit_code),
                exit_code=task.exit_code,
                attempt=task.attempt,
            )
        )
    return tuple(result)

"""The one table from Slurm job states and exit codes to portable states and reasons.

Slurm says where a job is (``JobState``: PENDING, RUNNING, COMPLETED, TIMEOUT...), why a
pending job waits (``Reason``) and how it ended (``ExitCode=7:0``: exit status 7, no signal;
``0:15``: killed by signal 15). The batch script the driver writes adds what Slurm cannot
know: the attempt number, the user command's own exit status, and whether the portable
timeout killed it (see :mod:`portacloud_slurm.script`). :func:`task_outcome` combines the two;
everything here is pure mapping code.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from types import MappingProxyType

from portacloud.jobs.models import JobReason, JobState

__all__ = [
    "HOPELESS_PENDING_REASONS",
    "SLURM_STATES",
    "AttemptReport",
    "TaskOutcome",
    "is_hopeless",
    "parse_exit_code",
    "slurm_state",
    "task_outcome",
]

_S = JobState
_R = JobReason

#: Slurm ``JobState`` -> (portable state, reason). Base names only: ``CANCELLED by 0`` (sacct)
#: and flags such as ``COMPLETING`` after a ``+`` are cut by :func:`slurm_state`.
SLURM_STATES: MappingProxyType[str, tuple[JobState, JobReason | None]] = MappingProxyType(
    {
        # Waiting: for resources, priority, a requeue or an administrator.
        "PENDING": (_S.PENDING, None),
        "REQUEUED": (_S.PENDING, None),
        "REQUEUE_HOLD": (_S.PENDING, None),
        "REQUEUE_FED": (_S.PENDING, None),
        "RESV_DEL_HOLD": (_S.PENDING, None),
        "SUSPENDED": (_S.PENDING, None),  # paused by the scheduler; resumes where it was
        # Nodes allocated, still booting or running the prolog.
        "CONFIGURING": (_S.STARTING, None),
        "RESIZING": (_S.STARTING, None),
        # The batch script runs (COMPLETING: its processes are being reaped).
        "RUNNING": (_S.RUNNING, None),
        "COMPLETING": (_S.RUNNING, None),
        "STAGE_OUT": (_S.RUNNING, None),
        "SIGNALING": (_S.RUNNING, None),
        "STOPPED": (_S.RUNNING, None),  # SIGSTOPped but keeps its allocation
        # Ended.
        "COMPLETED": (_S.SUCCEEDED, None),
        "FAILED": (_S.FAILED, _R.USER_ERROR),
        "SPECIAL_EXIT": (_S.FAILED, _R.USER_ERROR),
        "TIMEOUT": (_S.FAILED, _R.TIMEOUT),
        "DEADLINE": (_S.FAILED, _R.TIMEOUT),
        "OUT_OF_MEMORY": (_S.FAILED, _R.OOM),
        "NODE_FAIL": (_S.FAILED, _R.NODE_FAILURE),
        "BOOT_FAIL": (_S.FAILED, _R.NODE_FAILURE),
        "PREEMPTED": (_S.FAILED, _R.PREEMPTED),  # a requeued one comes back as PENDING
        "CANCELLED": (_S.CANCELLED, _R.USER_CANCELLED),
        "REVOKED": (_S.CANCELLED, _R.INFRA_ERROR),  # a federation sibling ran it instead
    }
)

#: Pending reasons Slurm gives a job that can never start as submitted (the request exceeds
#: what the partition, QOS or association allows). Without ``EnforcePartLimits`` sbatch
#: accepts such jobs and they would wait forever; the driver fails them with NO_CAPACITY.
HOPELESS_PENDING_REASONS = frozenset(
    {
        "BadConstraints",
        "PartitionConfig",
        "PartitionNodeLimit",
        "PartitionTimeLimit",
        "InvalidAccount",
        "InvalidQOS",
        "AccountNotAllowed",
        "QOSNotAllowed",
    }
)
_HOPELESS_LIMIT = re.compile(r"^(?:QOS|Assoc)Max\w*PerJob$")

_EXIT = re.compile(r"^\s*(-?\d+)(?::(\d+))?\s*$")


def slurm_state(raw: str) -> str:
    """The base state of a ``JobState``/``State`` value: ``CANCELLED by 0`` -> ``CANCELLED``."""
    return raw.strip().split(" ", 1)[0].split("+", 1)[0].upper()


def parse_exit_code(raw: str | None) -> tuple[int | None, int | None]:
    """Split Slurm's ``ExitCode`` (``status:signal``) into ``(exit status, signal)``.

    ``"7:0"`` is ``(7, None)``, ``"0:15"`` is ``(None, 15)``; a missing or malformed value is
    ``(None, None)``.
    """
    match = _EXIT.match(raw or "")
    if match is None:
        return None, None
    status, sig = int(match.group(1)), int(match.group(2) or 0)
    if sig:
        return None, sig
    return status, None


def is_hopeless(reason: str | None) -> bool:
    """Whether a pending ``Reason`` means the job can never start as submitted."""
    if not reason:
        return False
    word = reason.split(",", 1)[0].strip()
    return word in HOPELESS_PENDING_REASONS or bool(_HOPELESS_LIMIT.match(word))


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """What the batch script recorded about one task (its ``task-N.status`` file).

    Attributes:
        attempt: The attempt running or last run (1 for the first).
        phase: ``running`` while an attempt runs, ``exited`` once the task is done.
        exit_code: The last attempt's exit status, once it exited.
        timed_out: Whether the portable timeout killed the last attempt.
        started_at: When the first attempt started (epoch seconds).
        ended_at: When the task ended (epoch seconds).
    """

    attempt: int
    phase: str
    exit_code: int | None = None
    timed_out: bool = False
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def finished(self) -> bool:
        """Whether the script got to record the task's end."""
        return self.phase == "exited" and self.exit_code is not None


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """A task's portable state, derived from Slurm and the batch script's report."""

    state: JobState
    reason: JobReason | None = None
    exit_code: int | None = None
    attempt: int = 0
    message: str | None = None


def _ended_by_script(report: AttemptReport) -> TaskOutcome:
    """The outcome the batch script itself recorded."""
    code = report.exit_code
    if code == 0:
        return TaskOutcome(_S.SUCCEEDED, None, 0, report.attempt)
    if report.timed_out:
        return TaskOutcome(_S.FAILED, _R.TIMEOUT, code, report.attempt, "the timeout expired")
    if code == 128 + signal.SIGKILL:
        # The script's own kills are TERM-first and marked as timeouts; an unexplained
        # SIGKILL is, on Linux, the OOM killer's signature.
        return TaskOutcome(_S.FAILED, _R.OOM, code, report.attempt, "killed by SIGKILL")
    return TaskOutcome(_S.FAILED, _R.USER_ERROR, code, report.attempt)


def _exit_status(raw: str | None) -> int | None:
    status, sig = parse_exit_code(raw)
    return 128 + sig if sig is not None else status


def _forgotten(report: AttemptReport | None) -> TaskOutcome:
    """A task Slurm no longer knows: the batch script's final record, if it left one."""
    if report is not None and report.finished:
        return _ended_by_script(report)
    return TaskOutcome(
        _S.UNKNOWN,
        attempt=report.attempt if report else 0,
        message="Slurm no longer knows this job and its batch script left no final record",
    )


def task_outcome(  # noqa: PLR0911 - one return per way a task can stand
    state: str | None,
    *,
    reason: str | None = None,
    exit_code: str | None = None,
    restarts: int = 0,
    report: AttemptReport | None = None,
    ours: bool = True,
) -> TaskOutcome:
    """Map one task's Slurm record and batch-script report onto a portable outcome.

    Args:
        state: Slurm's ``JobState`` for the task, or ``None`` when Slurm no longer knows it.
        reason: Slurm's ``Reason`` (why it waits, or ``None``/``"None"``).
        exit_code: Slurm's ``ExitCode`` (``"7:0"``).
        restarts: Slurm's ``Restarts`` (requeues); counts attempts of jobs without a report.
        report: The batch script's record, when the job was submitted by portacloud and the
            task got to start.
        ours: Whether portacloud submitted the job (its batch script reports attempts).

    Returns:
        The task's state, reason, exit code, attempt and an explanation when there is one.
    """
    wait_reason = reason if reason and reason not in ("None", "(null)") else None
    if state is None:
        return _forgotten(report)
    base = slurm_state(state)
    portable, why = SLURM_STATES.get(base, (_S.UNKNOWN, None))
    attempt = report.attempt if report is not None else (0 if ours else restarts + 1)
    if portable is _S.PENDING:
        if is_hopeless(wait_reason):
            return TaskOutcome(
                _S.FAILED, _R.NO_CAPACITY, None, 0, f"Slurm can never start it: {wait_reason}"
            )
        return TaskOutcome(_S.PENDING, None, None, 0 if ours else restarts, wait_reason)
    if portable is _S.RUNNING and ours and report is None:
        # Slurm started the batch script; the user's command is not running yet.
        return TaskOutcome(_S.STARTING, None, None, 0)
    if portable in (_S.STARTING, _S.RUNNING):
        return TaskOutcome(portable, None, None, max(attempt, 1))
    if portable is _S.UNKNOWN:
        return TaskOutcome(_S.UNKNOWN, None, None, attempt, f"unknown Slurm state {state}")
    if base in ("COMPLETED", "FAILED") and report is not None and report.finished:
        # The batch script ended on its own: it knows the command's status and timeouts.
        return _ended_by_script(report)
    code = _exit_status(exit_code)
    if portable is _S.SUCCEEDED:
        return TaskOutcome(_S.SUCCEEDED, None, code if code is not None else 0, max(attempt, 1))
    if portable is _S.CANCELLED:
        # A task cancelled before it started reports 0:0; it has no exit status.
        ran = report is not None or code not in (None, 0)
        return TaskOutcome(_S.CANCELLED, why, code if ran else None, attempt, wait_reason)
    if why is _R.USER_ERROR and code == 128 + signal.SIGKILL:
        why = _R.OOM
    return TaskOutcome(portable, why, code, max(attempt, 1), _ended_message(base, wait_reason))


def _ended_message(base: str, reason: str | None) -> str | None:
    """Slurm's word on a failure: its Reason, and the state where it is not plain FAILED."""
    if base == "FAILED":
        return reason
    return f"Slurm ended it as {base}" + (f" ({reason})" if reason else "")

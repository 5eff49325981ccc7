"""The one table that turns Ray job states, plus what the runner reported, into portable ones.

Ray's five ``JobStatus`` values say too little: a FAILED job may have run out of time, exited
non-zero, never been placed, or lost its driver. So every status is first reduced to a piece of
:class:`Evidence` (from the runner's markers in the job log, Ray's ``error_type``, and whether
portacloud recorded a cancel), and :data:`STATE_TABLE` maps ``(Ray status, evidence)`` onto
``(JobState, JobReason)``. The same table describes single tasks of an array.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping
from enum import StrEnum

from portacloud.jobs.models import JobReason, JobState
from portacloud_ray.runner import (
    OUTCOME_CANCELLED,
    OUTCOME_EXITED,
    OUTCOME_SIGNALLED,
    OUTCOME_TIMEOUT,
)

__all__ = [
    "RAY_ERROR_EVIDENCE",
    "STATE_TABLE",
    "Evidence",
    "RayStatus",
    "evidence_for_attempt",
    "evidence_for_ray_failure",
    "map_state",
]


class RayStatus(StrEnum):
    """``ray.job_submission.JobStatus`` values, as the Jobs API spells them."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        """Whether Ray will not change the job's status any more."""
        return self in (RayStatus.STOPPED, RayStatus.SUCCEEDED, RayStatus.FAILED)


class Evidence(StrEnum):
    """What is known beyond Ray's own status."""

    #: Nothing more (for RUNNING: Ray started the entrypoint but the runner has not begun).
    NONE = "none"
    #: The runner is up and has started (or is between) attempts.
    RUNNER_BEGAN = "runner-began"
    #: portacloud asked Ray to stop the job while it ran.
    CANCEL_REQUESTED = "cancel-requested"
    #: portacloud cancelled the job before Ray placed it (Ray keeps such a job PENDING).
    CANCELLED_BEFORE_START = "cancelled-before-start"
    #: The last attempt's command exited non-zero by itself.
    EXITED = "exited"
    #: The last attempt was killed by SIGKILL that nobody in portacloud or Ray sent.
    KILLED = "killed"
    #: The last attempt was killed by another signal nobody in portacloud or Ray sent.
    SIGNALLED = "signalled"
    #: The last attempt ran past the spec's timeout.
    TIMED_OUT = "timed-out"
    #: Ray stopped the job and the runner killed the attempt.
    STOPPED = "stopped"
    #: Ray never placed the job's driver: it gave up after RAY_JOB_START_TIMEOUT_SECONDS.
    START_TIMEOUT = "start-timeout"
    #: Ray found no node that could ever hold the driver.
    UNSCHEDULABLE = "unschedulable"
    #: The job's driver (supervisor actor) died, with its node or by a crash.
    DRIVER_DIED = "driver-died"
    #: Ray could not set the job up (runtime environment, supervisor start, entrypoint start).
    SETUP_FAILED = "setup-failed"
    #: The runner stopped without reporting an outcome (it crashed or could not start).
    RUNNER_LOST = "runner-lost"


_P, _S, _R = JobState.PENDING, JobState.STARTING, JobState.RUNNING
_C, _F, _X = JobState.CANCELLED, JobState.FAILED, JobState.CANCELLING
_CANCELLED = (_C, JobReason.USER_CANCELLED)

#: (Ray status, evidence) -> (portable state, reason). Pairs that are missing cannot happen;
#: :func:`map_state` answers UNKNOWN for them rather than guess.
STATE_TABLE: Mapping[tuple[RayStatus, Evidence], tuple[JobState, JobReason | None]] = {
    (RayStatus.PENDING, Evidence.NONE): (_P, None),
    (RayStatus.PENDING, Evidence.CANCEL_REQUESTED): _CANCELLED,
    (RayStatus.PENDING, Evidence.CANCELLED_BEFORE_START): _CANCELLED,
    (RayStatus.RUNNING, Evidence.NONE): (_S, None),
    (RayStatus.RUNNING, Evidence.RUNNER_BEGAN): (_R, None),
    (RayStatus.RUNNING, Evidence.CANCEL_REQUESTED): (_X, None),
    # Already reported CANCELLED while Ray held it; Ray stops it as soon as it is placed.
    (RayStatus.RUNNING, Evidence.CANCELLED_BEFORE_START): _CANCELLED,
    (RayStatus.STOPPED, Evidence.NONE): _CANCELLED,
    (RayStatus.STOPPED, Evidence.CANCEL_REQUESTED): _CANCELLED,
    (RayStatus.STOPPED, Evidence.CANCELLED_BEFORE_START): _CANCELLED,
    (RayStatus.STOPPED, Evidence.STOPPED): _CANCELLED,
    (RayStatus.SUCCEEDED, Evidence.NONE): (JobState.SUCCEEDED, None),
    (RayStatus.SUCCEEDED, Evidence.CANCEL_REQUESTED): (JobState.SUCCEEDED, None),
    (RayStatus.SUCCEEDED, Evidence.CANCELLED_BEFORE_START): _CANCELLED,
    (RayStatus.FAILED, Evidence.EXITED): (_F, JobReason.USER_ERROR),
    (RayStatus.FAILED, Evidence.SIGNALLED): (_F, JobReason.USER_ERROR),
    # The runner sent no SIGKILL and Ray stops jobs as STOPPED: the kernel's OOM killer did.
    (RayStatus.FAILED, Evidence.KILLED): (_F, JobReason.OOM),
    (RayStatus.FAILED, Evidence.TIMED_OUT): (_F, JobReason.TIMEOUT),
    # A job stopped by Ray that the runner saw stopped, but Ray recorded as failed (the
    # entrypoint died before Ray could signal it).
    (RayStatus.FAILED, Evidence.STOPPED): _CANCELLED,
    (RayStatus.FAILED, Evidence.CANCELLED_BEFORE_START): _CANCELLED,
    (RayStatus.FAILED, Evidence.START_TIMEOUT): (_F, JobReason.NO_CAPACITY),
    (RayStatus.FAILED, Evidence.UNSCHEDULABLE): (_F, JobReason.NO_CAPACITY),
    (RayStatus.FAILED, Evidence.DRIVER_DIED): (_F, JobReason.NODE_FAILURE),
    (RayStatus.FAILED, Evidence.SETUP_FAILED): (_F, JobReason.INFRA_ERROR),
    (RayStatus.FAILED, Evidence.RUNNER_LOST): (_F, JobReason.INFRA_ERROR),
}

#: Ray's ``JobInfo.error_type`` for FAILED jobs -> evidence. ``JOB_ENTRYPOINT_COMMAND_ERROR``
#: (the entrypoint exited non-zero) is absent on purpose: the runner's markers say why.
RAY_ERROR_EVIDENCE: Mapping[str, Evidence] = {
    "JOB_SUPERVISOR_ACTOR_START_TIMEOUT": Evidence.START_TIMEOUT,
    "JOB_SUPERVISOR_ACTOR_UNSCHEDULABLE": Evidence.UNSCHEDULABLE,
    "JOB_SUPERVISOR_ACTOR_DIED": Evidence.DRIVER_DIED,
    "RUNTIME_ENV_SETUP_FAILURE": Evidence.SETUP_FAILED,
    "JOB_SUPERVISOR_ACTOR_START_FAILURE": Evidence.SETUP_FAILED,
    "JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE": Evidence.SETUP_FAILED,
    "JOB_ENTRYPOINT_COMMAND_START_ERROR": Evidence.SETUP_FAILED,
}

#: Ray versions without ``error_type`` only say it in the message.
_START_TIMEOUT_MESSAGE = re.compile(r"Job supervisor actor failed to start within [\d.]+ seconds")


def evidence_for_attempt(outcome: str, exit_code: int | None, sig: int | None) -> Evidence:
    """Evidence from the runner's report of an attempt that did not succeed."""
    if outcome == OUTCOME_TIMEOUT:
        return Evidence.TIMED_OUT
    if outcome == OUTCOME_CANCELLED:
        return Evidence.STOPPED
    if outcome == OUTCOME_SIGNALLED:
        return Evidence.KILLED if sig == signal.SIGKILL else Evidence.SIGNALLED
    if outcome == OUTCOME_EXITED and exit_code != 0:
        return Evidence.EXITED
    return Evidence.RUNNER_LOST


def evidence_for_ray_failure(error_type: str | None, message: str | None) -> Evidence | None:
    """Evidence from Ray's own account of a FAILED job, or ``None`` when the entrypoint ran."""
    if error_type and error_type in RAY_ERROR_EVIDENCE:
        return RAY_ERROR_EVIDENCE[error_type]
    if message and _START_TIMEOUT_MESSAGE.search(message):
        return Evidence.START_TIMEOUT
    return None


def map_state(status: RayStatus | str, evidence: Evidence) -> tuple[JobState, JobReason | None]:
    """Look ``(status, evidence)`` up in :data:`STATE_TABLE`; UNKNOWN for anything else."""
    try:
        key = (RayStatus(str(status)), evidence)
    except ValueError:
        return JobState.UNKNOWN, None
    return STATE_TABLE.get(key, (JobState.UNKNOWN, None))

"""Running ``sbatch`` once and ``scancel``: how jobs and service replicas start and end."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from portacloud.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from portacloud_slurm.commands import SlurmCommands, first_field
from portacloud_slurm.errors import (
    MAYBE_APPLIED,
    UNSATISFIABLE,
    SlurmCommandError,
    map_slurm_error,
)
from portacloud_slurm.partition import Partition

__all__ = ["sbatch", "scancel"]


def _outcome_unknown(what: str, check: str) -> UnavailableError:
    return UnavailableError(
        f"{what}; the job may have been queued all the same: check {check} (or squeue) "
        "before submitting it again",
        retryable=False,
    )


def sbatch(
    commands: SlurmCommands,
    partition: Partition,
    args: Sequence[str],
    script: Path,
    *,
    check: str = "`portacloud jobs ls`",
) -> str:
    """Run sbatch once and return the job id.

    sbatch has no idempotency key, so nothing repeats it: a try whose answer was lost may
    have queued the job, and a second would run it twice. Such a failure says so and is
    not retryable; one where the controller was never reached keeps its own verdict.

    Args:
        commands: The cluster's client commands.
        partition: Where it goes (its largest node is named when nothing could run it).
        args: sbatch's options.
        script: The batch script.
        check: What the user should look at when the outcome is unknown.
    """
    try:
        out = commands.run("sbatch", *args, str(script))
    except subprocess.TimeoutExpired as exc:
        raise _outcome_unknown(f"sbatch did not answer within {exc.timeout:g} s", check) from exc
    except SlurmCommandError as exc:
        mapped = map_slurm_error(exc)
        if mapped is not None and UNSATISFIABLE.search(exc.stderr):
            raise InvalidArgumentError(f"{mapped.message}; {partition.inventory()}") from exc
        if mapped is not None and mapped.retryable and MAYBE_APPLIED.search(exc.stderr):
            raise _outcome_unknown(mapped.message, check) from exc
        raise
    job_id = first_field(out)
    if not job_id.isdigit():
        raise InternalError(f"sbatch printed {out.strip()!r} instead of a job id")
    return job_id


def scancel(commands: SlurmCommands, job_id: str) -> None:
    """Cancel a job; one that ended, or that the controller forgot, is not an error."""
    try:
        commands.run("scancel", job_id)
    except SlurmCommandError as exc:
        mapped = map_slurm_error(exc)
        # Ended, or already forgotten by the controller: nothing is left to cancel.
        if not isinstance(mapped, NotFoundError | FailedPreconditionError):
            raise

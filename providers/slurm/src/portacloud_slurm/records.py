"""Reading one cluster's records of jobs: the controller's while it remembers them, then
accounting's (``sacct`` with slurmdbd, ``sacct -c`` with the ``jobcomp/filetxt`` file).

Shared by the job driver and the services launcher, which both ask "what does Slurm know of
job N" and must not tell a forgotten job from an unknown one differently.
"""

from __future__ import annotations

from collections.abc import Sequence

from portacloud_slurm.commands import (
    SACCT_FIELDS,
    JobRecord,
    SlurmCommands,
    job_ids_arg,
    parse_records,
    parse_sacct,
)
from portacloud_slurm.errors import SlurmCommandError

__all__ = ["RecordReader"]

_NOT_KNOWN = ("Invalid job id specified", "not found")


class RecordReader:
    """Finds Slurm's records of jobs.

    Args:
        commands: The cluster's client commands.
        accounting: Where ended jobs are found: ``sacct``, ``completion`` or ``None``
            (:class:`~portacloud_slurm.partition.ClusterInfo`).
    """

    def __init__(self, commands: SlurmCommands, accounting: str | None) -> None:
        self.commands = commands
        self.accounting = accounting

    def live(self, job_id: str) -> list[JobRecord] | None:
        """The controller's records of the job (array tasks included); ``None`` if it forgot."""
        try:
            text = self.commands.run("scontrol", "-o", "show", "job", job_id)
        except SlurmCommandError as exc:
            if any(s in exc.stderr for s in _NOT_KNOWN):
                return None
            raise
        return [r for r in parse_records(text) if r.group_id == job_id]

    def ended(self, job_ids: Sequence[str]) -> dict[str, list[JobRecord]]:
        """Records of ended jobs from sacct (slurmdbd) or ``sacct -c`` (completion file)."""
        if not job_ids or self.accounting is None:
            return {}
        args = ["-P", "-n", "-o", ",".join(SACCT_FIELDS), "-j", job_ids_arg(job_ids)]
        args = ["-c", *args] if self.accounting == "completion" else ["-X", *args]
        try:
            text = self.commands.run("sacct", *args)
        except SlurmCommandError:
            # Accounting that does not answer leaves the batch script's reports to tell.
            return {}
        found: dict[str, list[JobRecord]] = {}
        for record in parse_sacct(text):
            if record.group_id in job_ids:
                found.setdefault(record.group_id, []).append(record)
        return found

    def records(self, job_id: str) -> tuple[list[JobRecord], bool]:
        """The job's records and whether they are the controller's (complete) view."""
        live = self.live(job_id)
        if live is not None:
            return live, True
        return self.ended([job_id]).get(job_id, []), False

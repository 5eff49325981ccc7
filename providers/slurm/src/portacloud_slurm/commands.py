"""Running Slurm's client commands and reading what they print.

Every command runs through :class:`SlurmCommands.run`: an argv list (never a shell), the
caller's environment plus ``SLURM_CONF`` when the queue was opened with ``conf=``, a time
limit, and :class:`~portacloud_slurm.errors.SlurmCommandError` when it fails. The parsers
read the stable text formats (``scontrol -o``, ``sacct -P``, ``sinfo -o``) that Slurm has kept
since well before 22.05; ``--json`` output changes shape between releases.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from portacloud_slurm.errors import SlurmClientMissingError, SlurmCommandError

__all__ = [
    "JobRecord",
    "NodeInfo",
    "SlurmCommands",
    "parse_config",
    "parse_gpus",
    "parse_nodes",
    "parse_records",
    "parse_sacct",
    "parse_task_ids",
    "parse_time",
    "parse_time_limit",
]

#: Seconds a client command may take before the controller counts as unreachable.
COMMAND_TIMEOUT = 60.0

# `Key=value` pairs of `scontrol -o`: a value runs up to the next ` Key=` (values such as
# `Reason=ReqNodeNotAvail, UnavailableNodes:n1` contain spaces).
_PAIR = re.compile(r"(?:^|(?<= ))([A-Za-z][\w:/.]*)=(.*?)(?= [A-Za-z][\w:/.]*=|\s*$)")
_TASK_RANGE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
_SACCT_ID = re.compile(r"^(\d+)(?:_(\d+|\[[^\]]*\]))?(?:\+\d+)?$")
_GRES_GPU = re.compile(r"^gpu(?::([^:(]+))?(?::(\d+))?")
_NULLS = frozenset({"", "(null)", "None", "N/A", "Unknown", "NONE"})


class SlurmCommands:
    """Runs Slurm client commands for one cluster.

    Args:
        conf: Path of the cluster's ``slurm.conf`` (``SLURM_CONF``), or ``None`` for the
            client's own (``SLURM_CONF`` in the environment, else the configless/compiled-in
            default).
        timeout: Seconds each command may take.
    """

    def __init__(self, *, conf: str | None, timeout: float = COMMAND_TIMEOUT) -> None:
        self.conf = conf
        self.timeout = timeout

    def environment(self) -> dict[str, str]:
        """The environment commands run with (and that ``sbatch --export=ALL`` passes on)."""
        env = dict(os.environ)
        if self.conf:
            env["SLURM_CONF"] = self.conf
        return env

    def run(self, command: str, *args: str) -> str:
        """Run ``command args...`` and return its stdout.

        Raises:
            SlurmClientMissingError: the command is not installed.
            SlurmCommandError: it exited non-zero.
            subprocess.TimeoutExpired: it did not finish within the time limit.
        """
        argv = [command, *args]
        path = shutil.which(command)
        if path is None:
            raise SlurmClientMissingError(argv)
        try:
            done = subprocess.run(
                [path, *args],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError as exc:  # removed between which() and exec
            raise SlurmClientMissingError(argv) from exc
        if done.returncode != 0:
            raise SlurmCommandError(argv, done.returncode, done.stderr or done.stdout)
        return done.stdout


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job (or array-task) record of ``scontrol show job`` or ``sacct``.

    Attributes:
        job_id: Slurm's own id of this record (an array task has its own).
        array_job_id: The array's id for array tasks, else ``None``.
        task_ids: The array task indices this record stands for (a pending remainder covers
            several), or ``None`` for a job that is not an array.
        name: The job name.
        state: ``JobState`` as Slurm prints it.
        reason: Why it waits or ended (``Resources``, ``NonZeroExitCode``...), or ``None``.
        exit_code: ``ExitCode`` (``7:0``), or ``None``.
        restarts: How often Slurm requeued it.
        submitted_at: SubmitTime, when known.
        started_at: StartTime (for a pending job, Slurm's estimate).
        ended_at: EndTime (for a running job, its time limit).
        workdir: WorkDir.
        stdout: StdOut, as Slurm expanded it.
        partition: The partition.
        user_id: The owner's uid, when known.
    """

    job_id: str
    array_job_id: str | None = None
    task_ids: tuple[int, ...] | None = None
    name: str = ""
    state: str = "UNKNOWN"
    reason: str | None = None
    exit_code: str | None = None
    restarts: int = 0
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    workdir: str | None = None
    stdout: str | None = None
    partition: str | None = None
    user_id: int | None = None

    @property
    def group_id(self) -> str:
        """The id portacloud knows the job by: the array's id, else the job's."""
        return self.array_job_id or self.job_id


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What one node of a partition offers.

    Attributes:
        name: The node name.
        cpus: Its CPUs.
        memory_mb: Its memory in MiB.
        gpus: GPU count per GPU type (``None`` for GPUs configured without a type).
    """

    name: str
    cpus: int
    memory_mb: int
    gpus: Mapping[str | None, int]

    @property
    def gpu_count(self) -> int:
        """All of its GPUs."""
        return sum(self.gpus.values())


def _value(raw: str | None) -> str | None:
    if raw is None:
        return None
    raw = raw.strip()
    return None if raw in _NULLS else raw


def parse_time(raw: str | None) -> datetime | None:
    """A Slurm timestamp (local time, ``2026-11-27T09:01:09``) as an aware UTC datetime."""
    value = _value(raw)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Slurm prints the client's local time without an offset; astimezone() reads it so.
    return parsed.astimezone(UTC)


def parse_task_ids(raw: str | None) -> tuple[int, ...] | None:
    """Array task indices: ``3``, ``0-3``, ``1,4-8:2``, ``[0-9%2]`` -> a tuple of ints."""
    value = _value(raw)
    if value is None:
        return None
    value = value.strip("[]").split("%", 1)[0]
    ids: list[int] = []
    for part in value.split(","):
        match = _TASK_RANGE.match(part.strip())
        if match is None:
            return None
        first = int(match.group(1))
        last = int(match.group(2) or first)
        step = int(match.group(3) or 1)
        ids.extend(range(first, last + 1, step))
    return tuple(ids)


def _uid(raw: str | None) -> int | None:
    match = re.search(r"\((\d+)\)", raw or "")
    return int(match.group(1)) if match else None


def _int(raw: str | None, default: int = 0) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return default


def parse_pairs(line: str) -> dict[str, str]:
    """The ``Key=value`` pairs of one ``scontrol -o`` line."""
    return {m.group(1): m.group(2) for m in _PAIR.finditer(line.strip())}


def parse_records(text: str) -> list[JobRecord]:
    """The job records of ``scontrol -o show job [ID]`` (one line each)."""
    records = []
    for line in text.splitlines():
        fields = parse_pairs(line)
        if "JobId" not in fields:
            continue
        array = _value(fields.get("ArrayJobId"))
        records.append(
            JobRecord(
                job_id=fields["JobId"],
                array_job_id=array,
                task_ids=parse_task_ids(fields.get("ArrayTaskId")) if array else None,
                name=fields.get("JobName", ""),
                state=fields.get("JobState", "UNKNOWN"),
                reason=_value(fields.get("Reason")),
                exit_code=_value(fields.get("ExitCode")),
                restarts=_int(fields.get("Restarts")),
                submitted_at=parse_time(fields.get("SubmitTime")),
                started_at=parse_time(fields.get("StartTime")),
                ended_at=parse_time(fields.get("EndTime")),
                workdir=_value(fields.get("WorkDir")),
                stdout=_value(fields.get("StdOut")),
                partition=_value(fields.get("Partition")),
                user_id=_uid(fields.get("UserId")),
            )
        )
    return records


#: The ``sacct --format`` fields :func:`parse_sacct` reads, in order.
SACCT_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Start", "End", "WorkDir", "Partition")


def parse_sacct(text: str) -> list[JobRecord]:
    """The records of ``sacct -P -n -o <SACCT_FIELDS>`` (with slurmdbd, or ``-c``).

    With slurmdbd, array tasks read ``123_4`` (a pending remainder ``123_[5-9]``); the
    completion file of ``sacct -c`` only has each task's own raw id.
    """
    records = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < len(SACCT_FIELDS):
            continue
        match = _SACCT_ID.match(parts[0].strip())
        if match is None:
            continue  # job steps (123.batch) and het-job components
        job_id, task = match.group(1), match.group(2)
        records.append(
            JobRecord(
                job_id=job_id,
                array_job_id=job_id if task is not None else None,
                task_ids=parse_task_ids(task) if task is not None else None,
                name=parts[1],
                state=parts[2],
                exit_code=_value(parts[3]),
                started_at=parse_time(parts[4]),
                ended_at=parse_time(parts[5]),
                workdir=_value(parts[6]),
                partition=_value(parts[7]),
            )
        )
    return records


def parse_config(text: str) -> dict[str, str]:
    """``scontrol show config`` as a dict (``Key = value`` lines)."""
    config = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            config[key.strip()] = value.strip()
    return config


def parse_gpus(gres: str | None) -> dict[str | None, int]:
    """GPU counts per type of a node's ``Gres`` (``gpu:a100:4(S:0-1),gpu:2,mps:100``)."""
    found: dict[str | None, int] = {}
    for item in (_value(gres) or "").split(","):
        match = _GRES_GPU.match(item.strip())
        if match is None:
            continue
        kind, count = match.group(1), match.group(2)
        if count is None and kind is not None and kind.isdigit():
            kind, count = None, kind  # gpu:2: a count, not a type
        found[kind] = found.get(kind, 0) + int(count or 1)
    return found


def parse_nodes(text: str) -> list[NodeInfo]:
    """Nodes of ``sinfo -h -N -p P -o %N|%c|%m|%G`` (one line each)."""
    nodes = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 4 or not parts[0]:
            continue
        nodes.append(
            NodeInfo(
                name=parts[0],
                cpus=_int(parts[1].rstrip("+")),
                memory_mb=_int(parts[2].rstrip("+")),
                gpus=parse_gpus(parts[3]),
            )
        )
    return nodes


_LIMIT = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_time_limit(raw: str | None) -> float | None:
    """A Slurm time limit (``UNLIMITED``, ``30``, ``1-12:00:00``, ``45:00``) in seconds."""
    value = _value(raw)
    if value is None or value.upper() in ("UNLIMITED", "INFINITE"):
        return None
    match = _LIMIT.match(value)
    if match is None:
        return None
    days = int(match.group(1) or 0)
    parts = [int(p) for p in match.groups()[1:] if p is not None]
    if match.group(1) is not None:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = [*parts, 0, 0, 0][:3]
    elif len(parts) == 1:  # minutes
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:  # minutes:seconds
        hours, minutes, seconds = 0, parts[0], parts[1]
    else:  # hours:minutes:seconds
        hours, minutes, seconds = parts
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def job_ids_arg(ids: Iterable[str]) -> str:
    """A comma-separated id list for ``-j``."""
    return ",".join(sorted(set(ids), key=int))


def first_field(text: str) -> str:
    """``sbatch --parsable`` prints ``ID`` or ``ID;CLUSTER``."""
    return text.strip().split(";", 1)[0].strip()

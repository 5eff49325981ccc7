"""``SlurmLauncher``: each replica of a ``slurm://`` service is one ``sbatch`` job.

The services controller (:mod:`portacloud.services.controller`) decides when replicas start,
stop and are renewed; this launcher only submits, reads and cancels their jobs. A replica's
token is its Slurm job id. Its script (:mod:`portacloud_slurm.replica_script`) picks a free
port on the node it lands on and writes it to an address file beside the replica's log, where
:meth:`SlurmLauncher.poll` finds the URL the router sends traffic to.

Where the replicas have a walltime (the ``walltime`` option, else the partition's MaxTime),
each job asks for it with ``--time`` and is warned with ``--signal=B:TERM@N`` shortly before;
:meth:`~SlurmLauncher.poll` reports the job's EndTime as ``expires_at`` so that the controller
starts a replacement in time.
"""

from __future__ import annotations

import math
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from portacloud.services.launcher import Launched, LaunchState, ReplicaPlan
from portacloud_slurm.commands import JobRecord, SlurmCommands
from portacloud_slurm.errors import SlurmCommandError
from portacloud_slurm.files import write_atomic
from portacloud_slurm.partition import ClusterInfo, read_partition
from portacloud_slurm.records import RecordReader
from portacloud_slurm.replica_script import read_address, replica_script
from portacloud_slurm.states import SLURM_STATES, is_hopeless, parse_exit_code, slurm_state
from portacloud_slurm.submit import sbatch, scancel

__all__ = [
    "WARN_BEFORE_END",
    "SlurmLauncher",
    "earliest_warning",
    "make_launcher",
    "warning_lead",
    "whole_minutes",
]

#: Seconds before the walltime at which Slurm sends the replica SIGTERM (``--signal``).
WARN_BEFORE_END = 60
#: How much earlier than asked Slurm may send that signal (its timer's resolution, per the
#: sbatch manual; a one-minute job here got it 11 s after it started).
SIGNAL_SLACK = 60
#: The shortest walltime whose replicas get that warning: on shorter ones its slack would
#: end them long before the controller's renewal, so Slurm's own TERM at the end (then KILL
#: after the cluster's KillWait) is the only one.
WARN_MIN_WALLTIME = 600
#: Seconds :meth:`SlurmLauncher.stop` waits for Slurm to end a job it killed.
_KILL_WAIT = 15.0
_POLL = 0.25
# States in which the job's processes run (COMPLETING: they are being reaped, so the replica
# no longer serves and its port is being freed: it counts as ended).
_SERVING = frozenset({"RUNNING", "SIGNALING", "STOPPED", "STAGE_OUT"})


def whole_minutes(seconds: float) -> int:
    """``--time`` has whole minutes: the walltime rounded down, never below one."""
    return max(1, math.floor(seconds / 60))


def warning_lead(walltime: float) -> int | None:
    """``--signal=B:TERM@N``'s N for a walltime, or ``None`` for no warning signal."""
    return WARN_BEFORE_END if walltime >= WARN_MIN_WALLTIME else None


def earliest_warning(walltime: float) -> float:
    """How long before its walltime a replica may get SIGTERM: its successor must be ready
    by then (Slurm's own TERM comes at the walltime itself)."""
    lead = warning_lead(walltime)
    return 0.0 if lead is None else float(lead + SIGNAL_SLACK)


class SlurmLauncher:
    """Starts replicas as Slurm batch jobs on one partition.

    Args:
        commands: The cluster's client commands.
        info: The cluster and partition (:func:`~portacloud_slurm.partition.read_partition`).
        walltime: Seconds of ``--time`` per replica job; ``None`` for the partition's
            MaxTime (no ``--time`` at all where the partition has none).
    """

    def __init__(
        self, *, commands: SlurmCommands, info: ClusterInfo, walltime: float | None = None
    ) -> None:
        self.commands = commands
        self.info = info
        self.partition = info.partition
        self.reader = RecordReader(commands, info.accounting)
        limit = walltime if walltime is not None else self.partition.max_time
        self.time_minutes = whole_minutes(limit) if limit is not None else None

    @classmethod
    def open(
        cls,
        *,
        partition: str | None,
        conf: str | None = None,
        walltime: float | None = None,
        account: str | None = None,
        qos: str | None = None,
    ) -> SlurmLauncher:
        """Read the cluster's configuration and the partition, and return a launcher."""
        commands = SlurmCommands(conf=conf)
        info = read_partition(commands, partition, account=account, qos=qos)
        return cls(commands=commands, info=info, walltime=walltime)

    @staticmethod
    def address_file(plan: ReplicaPlan) -> Path:
        """Where the replica's script writes ``JOBID HOST PORT`` (beside its log)."""
        return plan.log_path.parent / f"{plan.replica}.address"

    def sbatch_args(self, plan: ReplicaPlan) -> list[str]:
        """The ``sbatch`` options of one replica's job."""
        args = self.partition.batch_args(
            name=plan.replica, chdir=plan.workdir, output=plan.log_path
        )
        args += self.partition.resource_args(plan.spec.resources, time=self.time_minutes)
        lead = warning_lead(self.time_minutes * 60) if self.time_minutes is not None else None
        if lead is not None:
            args.append(f"--signal=B:TERM@{lead}")
        return args

    def start(self, plan: ReplicaPlan) -> str:
        """Submit the replica's job and return its Slurm job id."""
        address = self.address_file(plan)
        address.parent.mkdir(parents=True, exist_ok=True)
        plan.log_path.parent.mkdir(parents=True, exist_ok=True)
        address.unlink(missing_ok=True)
        script = plan.log_path.parent / f"{plan.replica}.sbatch"
        text = replica_script(
            replica=plan.replica,
            spec=plan.spec,
            env=plan.env,
            workdir=plan.workdir,
            address_file=address,
            port=plan.port,
        )
        write_atomic(script, text, mode=0o700)
        check = f"squeue --name={plan.replica}"
        return sbatch(self.commands, self.partition, self.sbatch_args(plan), script, check=check)

    def poll(self, token: str, plan: ReplicaPlan) -> Launched:
        """Where the replica's job is: PENDING while queued, RUNNING (with its URL once the
        script wrote it, and its EndTime where it has a walltime), EXITED once ended."""
        records, _ = self.reader.records(token)
        if not records:
            return Launched(state=LaunchState.EXITED, reason=f"Slurm no longer knows job {token}")
        return self._launched(token, records[0], plan)

    def _launched(self, token: str, record: JobRecord, plan: ReplicaPlan) -> Launched:
        base = slurm_state(record.state)
        portable, _ = SLURM_STATES.get(base, (None, None))
        if base in _SERVING:
            address = read_address(self.address_file(plan))
            url = address.url if address is not None and address.job_id == token else None
            expires = record.ended_at if self.time_minutes is not None else None
            return Launched(state=LaunchState.RUNNING, url=url, expires_at=expires)
        if portable is not None and not portable.terminal and base != "COMPLETING":
            if is_hopeless(record.reason):
                # It would wait forever: end it, so that the controller counts a failed start.
                scancel(self.commands, token)
                return Launched(
                    state=LaunchState.EXITED, reason=f"Slurm can never start it: {record.reason}"
                )
            return Launched(state=LaunchState.PENDING, reason=record.reason)
        if portable is None:
            return Launched(state=LaunchState.PENDING, reason=f"unknown Slurm state {base}")
        status, sig = parse_exit_code(record.exit_code)
        code = 128 + sig if sig is not None else status
        why = f"Slurm ended it as {base}" + (f" ({record.reason})" if record.reason else "")
        return Launched(state=LaunchState.EXITED, exit_code=code, reason=why)

    def stop(self, token: str, *, grace: float) -> None:
        """SIGTERM the replica's script (which passes it on), SIGKILL it after ``grace``
        seconds, and return once Slurm has ended the job (or after a bounded wait)."""
        live = self.reader.live(token)
        if not live or slurm_state(live[0].state) not in _SERVING:
            scancel(self.commands, token)  # queued (no process to signal yet), ending, or ended
            self._wait_ended(token, _KILL_WAIT)
            return
        with suppress(SlurmCommandError):  # it may end between the read and the signal
            self.commands.run("scancel", "--signal=TERM", "--full", token)
        if not self._wait_ended(token, grace):
            with suppress(SlurmCommandError):
                self.commands.run("scancel", "--signal=KILL", "--full", token)
        scancel(self.commands, token)
        self._wait_ended(token, _KILL_WAIT)

    def _wait_ended(self, token: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            live = self.reader.live(token)
            if not live or slurm_state(live[0].state) not in {*_SERVING, "PENDING", "COMPLETING"}:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)


def make_launcher(state: Path, options: dict[str, Any]) -> SlurmLauncher:
    """The launcher the services controller runs with
    ``--launcher portacloud_slurm.replicas:make_launcher``.

    Options (the driver's, as JSON): ``partition``, ``conf``, ``walltime`` (seconds),
    ``account``, ``qos``. ``state`` (the service's directory) is not needed: every replica's
    files live beside its log.
    """
    del state
    walltime = options.get("walltime")
    return SlurmLauncher.open(
        partition=options.get("partition"),
        conf=options.get("conf"),
        walltime=float(walltime) if walltime is not None else None,
        account=options.get("account"),
        qos=options.get("qos"),
    )

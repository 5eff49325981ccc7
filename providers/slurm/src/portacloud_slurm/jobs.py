"""``slurm://PARTITION``: portacloud jobs as Slurm batch jobs, through Slurm's own commands.

Each job is one ``sbatch`` submission (an array job for ``array=N``) whose id is Slurm's job
id. The driver writes a batch script (:mod:`portacloud_slurm.script`) into a directory of its
own under ``<state_dir>/<ClusterName>/jobs/`` (``state_dir`` defaults to
``$PORTACLOUD_HOME/slurm``), which must be on a filesystem the nodes share, as home
directories are on a cluster; ``ids/`` beside it maps Slurm job ids to those directories
(:mod:`portacloud_slurm.files`). The directory holds the script, ``job.json`` (name, output
URI, task count), one log per task (stdout and stderr together) and the script's
``task-N.status`` reports.

State comes from ``scontrol show job`` while the controller remembers the job (``MinJobAge``
after it ends), then from ``sacct`` (slurmdbd) or ``sacct -c`` (the ``jobcomp/filetxt``
completion file), and always from the batch script's own reports, which know attempts,
timeouts and the command's exit status (:mod:`portacloud_slurm.compose`). Options (URL query
or keywords, :class:`SlurmOptions`):

- ``conf``: path of the cluster's ``slurm.conf`` (otherwise ``SLURM_CONF`` or the client's
  default);
- ``state_dir``: where job directories live;
- ``account``, ``qos``: passed to ``sbatch --account``/``--qos``.

Retries (docs/decisions/0007-jobs-and-compute-retries.md): ``sbatch`` is never repeated, since
a submission whose answer was lost may have been queued (that failure says so, not retryable);
status reads are retried by the
portable queue, and by this driver between the polls of ``follow_logs``, under the policy
given to ``open_jobs``. Every command runs with a time limit
(:data:`~portacloud_slurm.commands.COMMAND_TIMEOUT`).
"""

from __future__ import annotations

import builtins
import dataclasses
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import SplitResult

from pydantic import BeforeValidator

from portacloud.errors import (
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    guarded_call,
)
from portacloud.home import portacloud_home
from portacloud.jobs.containers import container_runtimes
from portacloud.jobs.logfiles import TaskLogFiles
from portacloud.jobs.models import JobCapabilities, JobReason, JobSpec, JobState, JobStatus
from portacloud.jobs.workdir import scan_workdir, stage_workdir
from portacloud.providerkit import ProviderOptions, parse_options
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud_slurm.commands import JobRecord, SlurmCommands, parse_records
from portacloud_slurm.compose import TaskView, compose_status, task_outcomes
from portacloud_slurm.errors import SlurmCommandError, map_slurm_error
from portacloud_slurm.files import CANCEL_MARK, META, VERDICT, JobFiles, JobMeta, write_atomic
from portacloud_slurm.partition import ClusterInfo, read_partition
from portacloud_slurm.records import RecordReader
from portacloud_slurm.script import SHIPPED_WORKDIR, batch_script
from portacloud_slurm.states import TaskOutcome
from portacloud_slurm.submit import sbatch, scancel

if TYPE_CHECKING:
    from portacloud_slurm.services import SlurmServiceDriver

__all__ = [
    "SlurmJobDriver",
    "SlurmJobsProvider",
    "SlurmOptions",
    "checked_location",
    "provider",
]

_CAPABILITIES = JobCapabilities(
    workdir=True,
    task_logs=True,
    notes=(
        "images run with podman from the batch script; the runtime is looked for on the "
        "submitting machine's PATH, the nodes must have it too",
        "each job runs on one node (--nodes=1); GPUs come from Slurm's gres allocation",
        "timeouts (to the second) and retries are enforced by the batch script; --time is "
        "set as an upper bound for all attempts",
        "CPU and memory are reserved by Slurm; enforcing them needs the cluster's cgroups",
        "state_dir must be on a filesystem the nodes share",
        "workdir is staged in the job's directory under state_dir; each task copies it",
    ),
)


def _blank_is_none(value: object) -> object:
    # An empty query value (`?account=`) means "not given"; a Path keyword is its text.
    if value is None or value == "":
        return None
    return str(value)


_Text = Annotated[str | None, BeforeValidator(_blank_is_none)]


class SlurmOptions(ProviderOptions):
    """The options of ``slurm://`` queues (URL query or keywords).

    Attributes:
        conf: Path of the cluster's ``slurm.conf``.
        state_dir: Where job directories live (default ``$PORTACLOUD_HOME/slurm``).
        account: ``sbatch --account``.
        qos: ``sbatch --qos``.
    """

    conf: _Text = None
    state_dir: _Text = None
    account: _Text = None
    qos: _Text = None


def _check_id(job_id: str) -> str:
    """Slurm job ids are decimal numbers; anything else cannot name a job here."""
    if not job_id.isascii() or not job_id.isdigit():
        raise NotFoundError("no such job (Slurm job ids are numbers)", resource=job_id)
    return str(int(job_id))


class SlurmJobDriver(TaskLogFiles):
    """Submits and tracks jobs on one Slurm partition. Open it with ``open_jobs``.

    Attributes:
        partition: The partition jobs go to.
        cluster: The cluster's ``ClusterName``.
        nodes: The partition's nodes as read when the queue was opened.
    """

    provider = "slurm"
    follow_interval = 0.5  # each read of a followed log may ask slurmctld for the state

    def __init__(
        self,
        *,
        commands: SlurmCommands,
        info: ClusterInfo,
        state_dir: Path,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.commands = commands
        self.info = info
        self.partition = info.partition.name
        self.cluster = info.cluster
        self.nodes = info.partition.nodes
        self.accounting = info.accounting
        self.reader = RecordReader(commands, info.accounting)
        self.files = JobFiles(state_dir / info.cluster)
        self.retry = retry or RetryPolicy()
        self.capabilities = _CAPABILITIES.model_copy(
            update={
                "max_gpus_per_job": max((n.gpu_count for n in self.nodes), default=0),
                # GPU models can only be asked for where the nodes' gres name a type.
                "gpu_types": any(t is not None for n in self.nodes for t in n.gpus),
                "images": bool(runtimes := container_runtimes()),
                "container_runtimes": runtimes,
            }
        )

    @classmethod
    def open(
        cls,
        commands: SlurmCommands,
        *,
        partition: str | None,
        state_dir: Path,
        account: str | None = None,
        qos: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> SlurmJobDriver:
        """Read the cluster's configuration and the partition's nodes, and return a driver."""
        info = read_partition(commands, partition, account=account, qos=qos)
        return cls(commands=commands, info=info, state_dir=state_dir, retry=retry)

    # ------------------------------------------------------------------ submit

    def submit(self, spec: JobSpec, *, env: Mapping[str, str], output_uri: str) -> str:
        where = self.info.partition
        where.check_fits(spec)
        job_dir = self.files.create(spec.name)
        try:
            args = where.sbatch_args(spec, job_dir)
            meta = JobMeta(
                name=spec.name,
                partition=self.partition,
                tasks=spec.tasks,
                array=spec.array is not None,
                output_uri=output_uri,
                submitted_at=time.time(),
                image=spec.image,
            )
            write_atomic(job_dir / META, meta.dump())
            if spec.workdir is not None:
                # state_dir is shared with the nodes already (logs, reports): the staged
                # copy travels the same way (docs/decisions/0009-job-workdir.md).
                stage_workdir(scan_workdir(spec.workdir), job_dir / SHIPPED_WORKDIR)
            script = job_dir / "job.sh"
            text = batch_script(spec, env=env, job_dir=job_dir, gpus=spec.resources.gpu_count)
            write_atomic(script, text, mode=0o700)
            job_id = sbatch(self.commands, where, args, script)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        write_atomic(job_dir / META, dataclasses.replace(meta, job_id=job_id).dump())
        self.files.link(job_id, job_dir)
        return job_id

    # ------------------------------------------------------------------ records

    def _ours(
        self, job_id: str, records: Sequence[JobRecord]
    ) -> tuple[Path | None, JobMeta | None]:
        """The job's directory and metadata, if portacloud submitted it."""
        indexed = self.files.ours(job_id)
        if indexed is not None:
            return indexed
        # Not indexed (yet, or by another state_dir): Slurm's WorkDir is the job's own
        # directory, unique to its submission, even before job.json learnt the id.
        for workdir in dict.fromkeys(r.workdir for r in records if r.workdir):
            candidate = Path(workdir)
            meta = JobMeta.load(candidate)
            if meta is not None and meta.job_id in (None, job_id):
                return candidate, dataclasses.replace(meta, job_id=job_id)
        return None, None

    # ------------------------------------------------------------------ status

    def status(self, job_id: str) -> JobStatus:
        jid = _check_id(job_id)
        records, live = self.reader.records(jid)
        job_dir, meta = self._ours(jid, records)
        if meta is None and not records:
            raise NotFoundError(f"Slurm has no job {jid}", resource=job_id)
        return self._compose(jid, job_dir, meta, records, live=live)

    def _compose(
        self,
        job_id: str,
        job_dir: Path | None,
        meta: JobMeta | None,
        records: Sequence[JobRecord],
        *,
        live: bool,
    ) -> JobStatus:
        tasks = task_outcomes(job_dir, meta, records, live=live)
        gave_up_at = None
        if job_dir is not None:
            tasks = self._settle_hopeless(job_id, job_dir, tasks)
            with suppress(OSError):
                gave_up_at = datetime.fromtimestamp((job_dir / VERDICT).stat().st_mtime, UTC)
        return compose_status(
            job_id,
            meta,
            records,
            tasks,
            cancelling=job_dir is not None and (job_dir / CANCEL_MARK).exists(),
            gave_up_at=gave_up_at,
        )

    def _settle_hopeless(
        self, job_id: str, job_dir: Path, tasks: builtins.list[TaskView]
    ) -> builtins.list[TaskView]:
        """Fail a job Slurm can never start, and cancel it so that it stops waiting.

        The verdict is written down first: after the cancel Slurm says CANCELLED, and the
        job must go on reading FAILED/NO_CAPACITY.
        """
        verdict_path = job_dir / VERDICT
        hopeless = [o for o, _, _ in tasks if o.reason is JobReason.NO_CAPACITY]
        if hopeless and not verdict_path.exists():
            write_atomic(verdict_path, hopeless[0].message or "Slurm can never start it")
            with suppress(SlurmCommandError, OSError):
                self.commands.run("scancel", job_id)
        try:
            verdict = verdict_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return tasks
        failed = TaskOutcome(JobState.FAILED, JobReason.NO_CAPACITY, None, 0, verdict)
        return [
            (o if o.state in (JobState.SUCCEEDED, JobState.FAILED) else failed, record, report)
            for o, record, report in tasks
        ]

    def list(self) -> builtins.list[JobStatus]:
        """The jobs portacloud submitted to this partition (from this ``state_dir``).

        Jobs submitted to Slurm by other means are left out, as are the records Slurm keeps
        of submissions sbatch refused (they get a job id nobody was told). One ``scontrol``
        call reads every live job and one ``sacct`` call the ended ones: nothing is paged.
        """
        ours: dict[str, tuple[Path, JobMeta]] = {}
        for job_id in self.files.ids():
            job_dir = self.files.find(job_id)
            meta = JobMeta.load(job_dir) if job_dir is not None else None
            if job_dir is not None and meta is not None and meta.partition == self.partition:
                ours[job_id] = (job_dir, meta)
        if not ours:
            return []
        groups: dict[str, builtins.list[JobRecord]] = {}
        for record in parse_records(self.commands.run("scontrol", "-o", "show", "job")):
            if record.group_id in ours:
                groups.setdefault(record.group_id, []).append(record)
        ended = self.reader.ended([j for j in ours if j not in groups])
        statuses = []
        for job_id, (job_dir, meta) in ours.items():
            live = job_id in groups
            records = groups[job_id] if live else ended.get(job_id, [])
            statuses.append(self._compose(job_id, job_dir, meta, records, live=live))
        statuses.sort(
            key=lambda s: (s.submitted_at or datetime.min.replace(tzinfo=UTC), int(s.id)),
            reverse=True,
        )
        return statuses

    # ------------------------------------------------------------------ logs

    def _log_files(self, job_id: str) -> builtins.list[Path]:
        jid = _check_id(job_id)
        indexed = self.files.ours(jid)
        if indexed is None:
            records, _ = self.reader.records(jid)
            job_dir, meta = self._ours(jid, records)
            if job_dir is None or meta is None:
                if not records:
                    raise NotFoundError(f"Slurm has no job {jid}", resource=job_id)
                # Not portacloud's: read whatever files Slurm says the tasks write to.
                ordered = sorted(records, key=lambda r: min(r.task_ids or (0,)))
                paths = [Path(r.stdout) for r in ordered if r.stdout and "%" not in r.stdout]
                return builtins.list(dict.fromkeys(paths))
            indexed = job_dir, meta
        job_dir, meta = indexed
        if meta.array:
            return [job_dir / f"slurm-{jid}_{i}.out" for i in range(meta.tasks)]
        return [job_dir / f"slurm-{jid}.out"]

    def _log_ended(self, job_id: str) -> bool:
        # Read between two polls of a log being followed: the portable queue cannot retry
        # inside a generator, so this driver owns these reads, under the opener's policy.
        def read() -> JobStatus:
            return guarded_call(
                lambda: self.status(job_id),
                map_error=map_slurm_error,
                provider=self.provider,
                operation="logs",
                resource=job_id,
            )

        return call_with_retry(self.retry, read).state.terminal

    # ------------------------------------------------------------------ cancel

    def cancel(self, job_id: str) -> None:
        jid = _check_id(job_id)
        job_dir = self.files.find(jid)
        if job_dir is None:
            records, _ = self.reader.records(jid)
            job_dir, meta = self._ours(jid, records)
            if meta is None and not records:
                raise NotFoundError(f"Slurm has no job {jid}", resource=job_id)
        if job_dir is not None:
            (job_dir / CANCEL_MARK).touch()
        scancel(self.commands, jid)

    # ------------------------------------------------------------------ plumbing

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return map_slurm_error(exc)

    def native(self) -> object | None:
        return self.commands

    def close(self) -> None:
        """Nothing to release: jobs run on after the queue is closed."""


def checked_location(url: SplitResult, opts: SlurmOptions) -> Path:
    """Check a ``slurm://`` URL and its ``conf``; return the absolute ``state_dir``."""
    if url.path not in ("", "/"):
        raise InvalidArgumentError("slurm:// URLs name a partition only: slurm://PARTITION")
    # A missing slurm.conf makes every client command retry for 60 s before failing.
    for source, path in (("conf=", opts.conf), ("SLURM_CONF", os.environ.get("SLURM_CONF"))):
        if path and not os.path.isfile(path):
            raise InvalidArgumentError(f"{source}{path}: no such slurm.conf")
        if path:
            break
    state_dir = Path(opts.state_dir or portacloud_home() / "slurm")
    if "%" in str(state_dir):
        raise InvalidArgumentError(
            f"state_dir {state_dir}: '%' would be read as a Slurm filename pattern"
        )
    return state_dir.expanduser().absolute()


class SlurmJobsProvider:
    """Opens ``slurm://PARTITION`` job queues and services (``slurm://`` for the default
    partition)."""

    def open_jobs(
        self,
        url: SplitResult,
        options: Mapping[str, Any],
        *,
        retry: RetryPolicy | None = None,
    ) -> SlurmJobDriver:
        """Read the cluster's configuration and the partition's nodes; return the driver.

        Args:
            url: ``slurm://PARTITION`` (``slurm://`` for the default partition).
            options: See :class:`SlurmOptions`.
            retry: The policy of this driver's own retries (status reads while following logs).

        Raises:
            InvalidArgumentError: an unknown option, a path in the URL, a missing ``conf``.
            NotFoundError: the partition does not exist.
            UnsupportedError: Slurm's client commands are not installed.
            UnavailableError: the controller cannot be reached.
        """
        opts = parse_options(SlurmOptions, "slurm", options)
        state_dir = checked_location(url, opts)
        return guarded_call(
            lambda: SlurmJobDriver.open(
                SlurmCommands(conf=opts.conf),
                partition=url.netloc or None,
                state_dir=state_dir,
                account=opts.account,
                qos=opts.qos,
                retry=retry,
            ),
            map_error=map_slurm_error,
            provider="slurm",
            operation="open_jobs",
            resource=url.netloc or None,
        )

    def open_services(self, url: SplitResult, options: Mapping[str, Any]) -> SlurmServiceDriver:
        """Services on ``slurm://PARTITION``: see :mod:`portacloud_slurm.services`."""
        from portacloud_slurm.services import open_slurm_services  # it builds on this module

        return open_slurm_services(url, options)


provider = SlurmJobsProvider()

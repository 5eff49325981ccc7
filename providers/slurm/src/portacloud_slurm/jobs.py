"""``slurm://PARTITION``: portacloud jobs as Slurm batch jobs, through Slurm's own commands.

Each job is one ``sbatch`` submission (an array job for ``array=N``) whose id is Slurm's job
id. The driver writes a batch script (:mod:`portacloud_slurm.script`) into a directory of its
own under ``<state_dir>/<ClusterName>/jobs/`` (``state_dir`` defaults to
``$PORTACLOUD_HOME/slurm``), which must be on a filesystem the nodes share, as home
directories are on a cluster; ``ids/`` beside it maps Slurm job ids to those directories.
The directory holds the
script, ``job.json`` (name, output URI, task count), one log per task (stdout and stderr
together) and the script's ``task-N.status`` reports.

State comes from ``scontrol show job`` while the controller remembers the job (``MinJobAge``
after it ends), then from ``sacct`` (slurmdbd) or ``sacct -c`` (the ``jobcomp/filetxt``
completion file), and always from the batch script's own reports, which know attempts,
timeouts and the command's exit status. Options (URL query or keywords):

- ``conf``: path of the cluster's ``slurm.conf`` (otherwise ``SLURM_CONF`` or the client's
  default);
- ``state_dir``: where job directories live;
- ``account``, ``qos``: passed to ``sbatch --account``/``--qos``.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult

from portacloud.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnknownError,
)
from portacloud.jobs.gpus import gpu_name_matches
from portacloud.jobs.models import (
    JobCapabilities,
    JobReason,
    JobSpec,
    JobState,
    JobStatus,
    TaskStatus,
)
from portacloud.profiles import portacloud_home
from portacloud.providers.options import reject_unknown_options
from portacloud_slurm.commands import (
    SACCT_FIELDS,
    JobRecord,
    NodeInfo,
    SlurmCommands,
    first_field,
    job_ids_arg,
    parse_config,
    parse_nodes,
    parse_pairs,
    parse_records,
    parse_sacct,
    parse_time_limit,
)
from portacloud_slurm.errors import UNSATISFIABLE, SlurmCommandError, map_slurm_error
from portacloud_slurm.script import KILL_GRACE, batch_script, read_report
from portacloud_slurm.states import AttemptReport, TaskOutcome, slurm_state, task_outcome

__all__ = ["SlurmJobDriver", "SlurmJobsProvider", "provider"]

_CAPABILITIES = JobCapabilities(
    images=False,
    notes=(
        "each job runs on one node (--nodes=1); GPUs come from Slurm's gres allocation",
        "timeouts (to the second) and retries are enforced by the batch script; --time is "
        "set as an upper bound for all attempts",
        "CPU and memory are reserved by Slurm; enforcing them needs the cluster's cgroups",
        "state_dir must be on a filesystem the nodes share",
    ),
)
_OPTIONS = ("conf", "state_dir", "account", "qos")
_META = "job.json"
_CANCEL_MARK = "cancel-requested"
_VERDICT = "no-capacity"
_NOT_KNOWN = ("Invalid job id specified", "not found")
#: Seconds of --time beyond the attempts' own timeouts: node prolog, script start-up.
_TIME_SLACK = 60.0


@dataclass(frozen=True, slots=True)
class _Meta:
    """What ``job.json`` remembers of a job portacloud submitted."""

    name: str
    partition: str
    tasks: int
    array: bool
    output_uri: str | None
    submitted_at: float | None
    job_id: str | None = None

    def dump(self) -> str:
        return json.dumps(
            {
                "format": 1,
                "name": self.name,
                "partition": self.partition,
                "tasks": self.tasks,
                "array": self.array,
                "output_uri": self.output_uri,
                "submitted_at": self.submitted_at,
                "job_id": self.job_id,
            }
        )

    @classmethod
    def load(cls, job_dir: Path) -> _Meta | None:
        try:
            data = json.loads((job_dir / _META).read_text(encoding="utf-8"))
            return cls(
                name=str(data["name"]),
                partition=str(data["partition"]),
                tasks=int(data["tasks"]),
                array=bool(data["array"]),
                output_uri=data.get("output_uri"),
                submitted_at=data.get("submitted_at"),
                job_id=data.get("job_id"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _write_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    os.replace(tmp, path)


class _JobFiles:
    """The jobs' directories under ``root``, and an index from Slurm job id to directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs = root / "jobs"
        self.index = root / "ids"

    def create(self, name: str) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        job_dir = self.jobs / f"{name}-{stamp}-{uuid.uuid4().hex[:8]}"
        job_dir.mkdir(parents=True)
        self.index.mkdir(parents=True, exist_ok=True)
        return job_dir

    def link(self, job_id: str, job_dir: Path) -> None:
        # Replaced atomically: a cluster whose state was wiped hands out old ids again.
        tmp = self.index / f".{job_id}.{uuid.uuid4().hex[:8]}"
        tmp.symlink_to(os.path.relpath(job_dir, self.index))
        os.replace(tmp, self.index / job_id)

    def find(self, job_id: str) -> Path | None:
        link = self.index / job_id
        try:
            target = (self.index / os.readlink(link)).resolve()
        except OSError:
            return None
        return target if target.is_dir() else None

    def ids(self) -> builtins.list[str]:
        try:
            names = os.listdir(self.index)
        except FileNotFoundError:
            return []
        return [n for n in names if n.isdigit()]


def _epoch(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _check_id(job_id: str) -> str:
    """Slurm job ids are decimal numbers; anything else cannot name a job here."""
    if not job_id.isascii() or not job_id.isdigit():
        raise NotFoundError("no such job (Slurm job ids are numbers)", resource=job_id)
    return str(int(job_id))


class SlurmJobDriver:
    """Submits and tracks jobs on one Slurm partition. Open it with ``open_jobs``.

    Attributes:
        partition: The partition jobs go to.
        cluster: The cluster's ``ClusterName``.
        nodes: The partition's nodes as read when the queue was opened.
    """

    provider = "slurm"

    def __init__(
        self,
        *,
        commands: SlurmCommands,
        partition: str,
        cluster: str,
        nodes: Sequence[NodeInfo],
        max_time: float | None,
        accounting: str | None,
        state_dir: Path,
        max_array_size: int | None = None,
        account: str | None = None,
        qos: str | None = None,
    ) -> None:
        self.commands = commands
        self.max_array_size = max_array_size
        self.partition = partition
        self.cluster = cluster
        self.nodes = tuple(nodes)
        self.max_time = max_time
        self.accounting = accounting
        self.files = _JobFiles(state_dir / cluster)
        self.account = account
        self.qos = qos
        self.capabilities = _CAPABILITIES.model_copy(
            update={
                "max_gpus_per_job": max((n.gpu_count for n in self.nodes), default=0),
                # GPU models can only be asked for where the nodes' gres name a type.
                "gpu_types": any(t is not None for n in self.nodes for t in n.gpus),
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
    ) -> SlurmJobDriver:
        """Read the cluster's configuration and the partition's nodes, and return a driver."""
        config = parse_config(commands.run("scontrol", "show", "config"))
        cluster = config.get("ClusterName") or "cluster"
        if partition is None:
            found = [
                parse_pairs(line)
                for line in commands.run("scontrol", "-o", "show", "partition").splitlines()
            ]
            defaults = [p["PartitionName"] for p in found if p.get("Default") == "YES"]
            if not defaults:
                raise InvalidArgumentError(
                    "the cluster has no default partition: name one, slurm://PARTITION"
                )
            partition = defaults[0]
        info = parse_pairs(commands.run("scontrol", "-o", "show", "partition", partition))
        nodes = parse_nodes(commands.run("sinfo", "-h", "-N", "-p", partition, "-o", "%N|%c|%m|%G"))
        if config.get("AccountingStorageType", "accounting_storage/none") not in (
            "accounting_storage/none",
            "",
        ):
            accounting: str | None = "sacct"
        elif config.get("JobCompType") == "jobcomp/filetxt":
            accounting = "completion"
        else:
            accounting = None
        return cls(
            commands=commands,
            partition=partition,
            cluster=cluster,
            nodes=nodes,
            max_time=parse_time_limit(info.get("MaxTime")),
            accounting=accounting,
            state_dir=state_dir,
            max_array_size=_int_or_none(config.get("MaxArraySize")),
            account=account,
            qos=qos,
        )

    # ------------------------------------------------------------------ submit

    def _gres(self, spec: JobSpec) -> str | None:
        """``--gres`` for the spec's GPUs, naming the node's GPU type for a requested model."""
        count = spec.resources.gpu_count
        if not count:
            return None
        wanted = spec.resources.gpu_type
        if wanted is None:
            return f"gpu:{count}"
        types = sorted({t for n in self.nodes for t in n.gpus if t is not None})
        for kind in types:
            # A type called "fake" stands in for any model, as local://?gpus=N does.
            if kind == "fake" or kind.lower() == wanted.lower() or gpu_name_matches(wanted, kind):
                return f"gpu:{kind}:{count}"
        raise InvalidArgumentError(
            f"asks for {wanted} GPUs; partition {self.partition} has GPU types "
            f"{', '.join(types) or 'none'}"
        )

    def _inventory(self) -> str:
        if not self.nodes:
            return f"partition {self.partition} has no nodes"
        biggest = max(self.nodes, key=lambda n: (n.gpu_count, n.cpus, n.memory_mb))
        return (
            f"the largest node of partition {self.partition} has {biggest.cpus} CPUs, "
            f"{biggest.memory_mb} MiB and {biggest.gpu_count} GPU(s)"
        )

    def _time_limit(self, spec: JobSpec) -> int | None:
        """``--time`` in minutes: all attempts with their kill grace, within MaxTime."""
        if spec.timeout is None:
            return None
        tries = spec.retries + 1
        needed = (spec.timeout + KILL_GRACE + 1) * tries + _TIME_SLACK
        if self.max_time is not None and needed > self.max_time:
            if spec.timeout * tries > self.max_time:
                raise InvalidArgumentError(
                    f"{tries} attempt(s) of {spec.timeout:g} s exceed the MaxTime of "
                    f"partition {self.partition} ({self.max_time:g} s)"
                )
            return max(1, math.floor(self.max_time / 60))
        return max(1, math.ceil(needed / 60))

    def _check_fits(self, spec: JobSpec) -> None:
        """Refuse what sbatch would refuse with a vaguer message, or accept and never start."""
        size = self.max_array_size
        if spec.array is not None and size and spec.array > size:
            raise InvalidArgumentError(
                f"an array of {spec.array} tasks exceeds the cluster's MaxArraySize "
                f"({size}: task indices up to {size - 1})"
            )
        cpus = spec.resources.cpus
        if cpus is not None and self.nodes and math.ceil(cpus) > max(n.cpus for n in self.nodes):
            raise InvalidArgumentError(f"asks for {cpus:g} CPUs; {self._inventory()}")

    def _sbatch_args(self, spec: JobSpec, job_dir: Path) -> builtins.list[str]:
        log = "slurm-%A_%a.out" if spec.array is not None else "slurm-%j.out"
        args = [
            "--parsable",
            f"--job-name={spec.name}",
            f"--partition={self.partition}",
            "--nodes=1",
            "--ntasks=1",
            f"--chdir={job_dir}",  # Slurm's WorkDir leads back to the job's directory
            f"--output={job_dir / log}",  # no --error: stderr goes to the same file
            "--open-mode=append",  # a requeued task keeps the earlier attempts' output
            "--export=ALL",  # the job's own variables are in the script, quoted
        ]
        if spec.array is not None:
            args.append(f"--array=0-{spec.array - 1}")
        gres = self._gres(spec)
        if gres:
            args.append(f"--gres={gres}")
        res = spec.resources
        if res.cpus is not None:
            args.append(f"--cpus-per-task={math.ceil(res.cpus)}")
        if res.memory_gb is not None:
            args.append(f"--mem={math.ceil(res.memory_gb * 1024)}M")
        if res.disk_gb is not None:
            args.append(f"--tmp={math.ceil(res.disk_gb * 1024)}M")
        minutes = self._time_limit(spec)
        if minutes is not None:
            args.append(f"--time={minutes}")
        if self.account:
            args.append(f"--account={self.account}")
        if self.qos:
            args.append(f"--qos={self.qos}")
        return args

    def submit(self, spec: JobSpec, *, env: Mapping[str, str], output_uri: str) -> str:
        self._check_fits(spec)
        job_dir = self.files.create(spec.name)
        try:
            args = self._sbatch_args(spec, job_dir)
            meta = _Meta(
                name=spec.name,
                partition=self.partition,
                tasks=spec.tasks,
                array=spec.array is not None,
                output_uri=output_uri,
                submitted_at=time.time(),
            )
            _write_atomic(job_dir / _META, meta.dump())
            script = job_dir / "job.sh"
            text = batch_script(spec, env=env, job_dir=job_dir, gpus=spec.resources.gpu_count)
            _write_atomic(script, text, mode=0o700)
            try:
                out = self.commands.run("sbatch", *args, str(script))
            except SlurmCommandError as exc:
                mapped = map_slurm_error(exc)
                if mapped is not None and UNSATISFIABLE.search(exc.stderr):
                    raise InvalidArgumentError(f"{mapped.message}; {self._inventory()}") from exc
                raise
            job_id = first_field(out)
            if not job_id.isdigit():
                raise InternalError(f"sbatch printed {out.strip()!r} instead of a job id")
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        _write_atomic(job_dir / _META, dataclasses.replace(meta, job_id=job_id).dump())
        self.files.link(job_id, job_dir)
        return job_id

    # ------------------------------------------------------------------ records

    def _live(self, job_id: str) -> builtins.list[JobRecord] | None:
        """The controller's records of the job (array tasks included); ``None`` if it forgot."""
        try:
            text = self.commands.run("scontrol", "-o", "show", "job", job_id)
        except SlurmCommandError as exc:
            if any(s in exc.stderr for s in _NOT_KNOWN):
                return None
            raise
        return [r for r in parse_records(text) if r.group_id == job_id]

    def _accounting(self, job_ids: Sequence[str]) -> dict[str, builtins.list[JobRecord]]:
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
        found: dict[str, builtins.list[JobRecord]] = {}
        for record in parse_sacct(text):
            if record.group_id in job_ids:
                found.setdefault(record.group_id, []).append(record)
        return found

    def _records(self, job_id: str) -> tuple[builtins.list[JobRecord], bool]:
        """The job's records and whether they are the controller's (complete) view."""
        live = self._live(job_id)
        if live is not None:
            return live, True
        return self._accounting([job_id]).get(job_id, []), False

    def _ours(self, job_id: str, records: Sequence[JobRecord]) -> tuple[Path | None, _Meta | None]:
        """The job's directory and metadata, if portacloud submitted it."""
        job_dir = self.files.find(job_id)
        meta = _Meta.load(job_dir) if job_dir is not None else None
        if job_dir is not None and meta is not None and meta.job_id == job_id:
            return job_dir, meta
        # Not indexed (yet, or by another state_dir): Slurm's WorkDir is the job's own
        # directory, unique to its submission, even before job.json learnt the id.
        for workdir in dict.fromkeys(r.workdir for r in records if r.workdir):
            candidate = Path(workdir)
            meta = _Meta.load(candidate)
            if meta is not None and meta.job_id in (None, job_id):
                return candidate, dataclasses.replace(meta, job_id=job_id)
        return None, None

    # ------------------------------------------------------------------ status

    def status(self, job_id: str) -> JobStatus:
        jid = _check_id(job_id)
        records, live = self._records(jid)
        job_dir, meta = self._ours(jid, records)
        if meta is None and not records:
            raise NotFoundError(f"Slurm has no job {jid}", resource=job_id)
        return self._compose(jid, job_dir, meta, records, live=live)

    def _task_outcomes(
        self,
        job_dir: Path | None,
        meta: _Meta | None,
        records: Sequence[JobRecord],
        *,
        live: bool,
    ) -> builtins.list[tuple[TaskOutcome, JobRecord | None, AttemptReport | None]]:
        array = meta.array if meta else any(r.array_job_id for r in records)
        indexed: dict[int, JobRecord] = {}
        loose: JobRecord | None = None  # a record that does not say which task it is
        for rec in records:
            if rec.task_ids is not None:
                indexed.update(dict.fromkeys(rec.task_ids, rec))
            elif not array:
                indexed[0] = rec
            else:
                loose = rec
        count = meta.tasks if meta else max([*indexed, 0]) + 1
        ours = meta is not None
        outcomes: builtins.list[tuple[TaskOutcome, JobRecord | None, AttemptReport | None]] = []
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

    def _compose(
        self,
        job_id: str,
        job_dir: Path | None,
        meta: _Meta | None,
        records: Sequence[JobRecord],
        *,
        live: bool,
    ) -> JobStatus:
        tasks = self._task_outcomes(job_dir, meta, records, live=live)
        if job_dir is not None:
            tasks = self._settle_hopeless(job_id, job_dir, tasks)
        outcomes = [o for o, _, _ in tasks]
        cancelling = job_dir is not None and (job_dir / _CANCEL_MARK).exists()
        state, reason, exit_code, message = _combine(outcomes, cancelling=cancelling)
        starts = [s for s in (_started(*t) for t in tasks) if s is not None]
        ends = [e for e in (_ended(*t) for t in tasks) if e is not None]
        if reason is JobReason.NO_CAPACITY and job_dir is not None:
            with suppress(OSError):  # it ended when the driver gave up on it
                ends = [datetime.fromtimestamp((job_dir / _VERDICT).stat().st_mtime, UTC)]
        submitted = _epoch(meta.submitted_at) if meta else None
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
            tasks=tuple(
                TaskStatus(
                    index=i,
                    state=o.state,
                    reason=o.reason,
                    exit_code=o.exit_code,
                    attempt=o.attempt,
                )
                for i, o in enumerate(outcomes)
            )
            if len(outcomes) > 1
            else (),
        )

    def _settle_hopeless(
        self,
        job_id: str,
        job_dir: Path,
        tasks: builtins.list[tuple[TaskOutcome, JobRecord | None, AttemptReport | None]],
    ) -> builtins.list[tuple[TaskOutcome, JobRecord | None, AttemptReport | None]]:
        """Fail a job Slurm can never start, and cancel it so that it stops waiting.

        The verdict is written down first: after the cancel Slurm says CANCELLED, and the
        job must go on reading FAILED/NO_CAPACITY.
        """
        verdict_path = job_dir / _VERDICT
        hopeless = [o for o, _, _ in tasks if o.reason is JobReason.NO_CAPACITY]
        if hopeless and not verdict_path.exists():
            _write_atomic(verdict_path, hopeless[0].message or "Slurm can never start it")
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
        of submissions sbatch refused (they get a job id nobody was told).
        """
        ours: dict[str, tuple[Path, _Meta]] = {}
        for job_id in self.files.ids():
            job_dir = self.files.find(job_id)
            meta = _Meta.load(job_dir) if job_dir is not None else None
            if job_dir is not None and meta is not None and meta.partition == self.partition:
                ours[job_id] = (job_dir, meta)
        if not ours:
            return []
        groups: dict[str, builtins.list[JobRecord]] = {}
        for record in parse_records(self.commands.run("scontrol", "-o", "show", "job")):
            if record.group_id in ours:
                groups.setdefault(record.group_id, []).append(record)
        ended = self._accounting([j for j in ours if j not in groups])
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
        job_dir = self.files.find(jid)
        meta = _Meta.load(job_dir) if job_dir is not None else None
        if job_dir is None or meta is None or meta.job_id != jid:
            records, _ = self._records(jid)
            job_dir, meta = self._ours(jid, records)
            if job_dir is None or meta is None:
                if not records:
                    raise NotFoundError(f"Slurm has no job {jid}", resource=job_id)
                # Not portacloud's: read whatever files Slurm says the tasks write to.
                ordered = sorted(records, key=lambda r: min(r.task_ids or (0,)))
                paths = [Path(r.stdout) for r in ordered if r.stdout and "%" not in r.stdout]
                return builtins.list(dict.fromkeys(paths))
        if meta.array:
            return [job_dir / f"slurm-{jid}_{i}.out" for i in range(meta.tasks)]
        return [job_dir / f"slurm-{jid}.out"]

    def logs(self, job_id: str) -> str:
        files = self._log_files(job_id)
        parts = []
        for i, path in enumerate(files):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                text = ""
            if len(files) > 1:
                text = "".join(f"[task {i}] {line}" for line in text.splitlines(keepends=True))
            parts.append(text)
        return "".join(parts)

    def follow_logs(self, job_id: str) -> Iterator[str]:
        files = self._log_files(job_id)
        offsets = [0] * len(files)

        def drain() -> Iterator[str]:
            for i, path in enumerate(files):
                try:
                    with open(path, "rb") as f:
                        f.seek(offsets[i])
                        data = f.read()
                except FileNotFoundError:
                    continue
                if data:
                    offsets[i] += len(data)
                    yield data.decode(errors="replace")

        while True:
            ended = self.status(job_id).state.terminal
            yield from drain()
            if ended:
                return
            time.sleep(0.5)

    # ------------------------------------------------------------------ cancel

    def cancel(self, job_id: str) -> None:
        jid = _check_id(job_id)
        job_dir = self.files.find(jid)
        if job_dir is None:
            records, _ = self._records(jid)
            job_dir, meta = self._ours(jid, records)
            if meta is None and not records:
                raise NotFoundError(f"Slurm has no job {jid}", resource=job_id)
        if job_dir is not None:
            (job_dir / _CANCEL_MARK).touch()
        try:
            self.commands.run("scancel", jid)
        except SlurmCommandError as exc:
            mapped = map_slurm_error(exc)
            # Ended, or already forgotten by the controller: nothing is left to cancel.
            if not isinstance(mapped, NotFoundError | FailedPreconditionError):
                raise

    # ------------------------------------------------------------------ plumbing

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return map_slurm_error(exc)

    def native(self) -> object | None:
        return self.commands

    def close(self) -> None:
        """Nothing to release: jobs run on after the queue is closed."""


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _cancelled(record: JobRecord | None) -> bool:
    return record is not None and slurm_state(record.state) == "CANCELLED"


def _started(
    outcome: TaskOutcome, record: JobRecord | None, report: AttemptReport | None
) -> datetime | None:
    if report is not None and report.started_at is not None:
        return _epoch(report.started_at)
    if record is not None and outcome.attempt > 0:
        return record.started_at
    return None


def _ended(
    outcome: TaskOutcome, record: JobRecord | None, report: AttemptReport | None
) -> datetime | None:
    if not outcome.state.terminal:
        return None
    if report is not None and report.finished and report.ended_at is not None:
        return _epoch(report.ended_at)
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


class SlurmJobsProvider:
    """Opens ``slurm://PARTITION`` job queues (``slurm://`` for the default partition)."""

    def open_jobs(self, url: SplitResult, options: Mapping[str, Any]) -> SlurmJobDriver:
        """Read the cluster's configuration and the partition's nodes; return the driver.

        Raises:
            InvalidArgumentError: an unknown option, a path in the URL, a missing ``conf``.
            NotFoundError: the partition does not exist.
            UnsupportedError: Slurm's client commands are not installed.
            UnavailableError: the controller cannot be reached.
        """
        reject_unknown_options("slurm", options, allowed=_OPTIONS)
        if url.path not in ("", "/"):
            raise InvalidArgumentError("slurm:// URLs name a partition only: slurm://PARTITION")
        conf = _option(options, "conf") or None
        # A missing slurm.conf makes every client command retry for 60 s before failing.
        for source, path in (("conf=", conf), ("SLURM_CONF", os.environ.get("SLURM_CONF"))):
            if path and not os.path.isfile(path):
                raise InvalidArgumentError(f"{source}{path}: no such slurm.conf")
            if path:
                break
        state_dir = Path(_option(options, "state_dir") or portacloud_home() / "slurm")
        if "%" in str(state_dir):
            raise InvalidArgumentError(
                f"state_dir {state_dir}: '%' would be read as a Slurm filename pattern"
            )
        commands = SlurmCommands(conf=conf)
        try:
            return SlurmJobDriver.open(
                commands,
                partition=url.netloc or None,
                state_dir=state_dir.expanduser().absolute(),
                account=_option(options, "account"),
                qos=_option(options, "qos"),
            )
        except PortaCloudError:
            raise
        except Exception as exc:
            mapped = map_slurm_error(exc) or UnknownError(
                f"unexpected {type(exc).__name__} while opening the queue"
            )
            raise mapped from exc


def _option(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    return str(value)


provider = SlurmJobsProvider()

"""What one Slurm partition offers, and the ``sbatch`` options a job spec becomes there.

Read once when a queue is opened (:func:`read_partition`): the cluster's configuration
(``scontrol show config``), the partition (``scontrol show partition``) and its nodes
(``sinfo``). Requests no node could ever run are refused here, with the partition's largest
node in the message, instead of waiting in the queue forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from portacloud.errors import InvalidArgumentError
from portacloud.jobs.gpus import gpu_name_matches
from portacloud.jobs.models import JobSpec
from portacloud.resources import Resources
from portacloud_slurm.commands import (
    NodeInfo,
    SlurmCommands,
    parse_config,
    parse_nodes,
    parse_pairs,
    parse_time_limit,
)
from portacloud_slurm.script import KILL_GRACE

__all__ = ["ClusterInfo", "Partition", "read_partition"]

#: Seconds of --time beyond the attempts' own timeouts: node prolog, script start-up.
_TIME_SLACK = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """One partition's limits and nodes, and where jobs are billed.

    Attributes:
        name: The partition.
        nodes: Its nodes as read when the queue was opened.
        max_time: Its ``MaxTime`` in seconds (``None``: unlimited).
        max_array_size: The cluster's ``MaxArraySize``, when known.
        account: Passed to ``sbatch --account``.
        qos: Passed to ``sbatch --qos``.
    """

    name: str
    nodes: tuple[NodeInfo, ...] = ()
    max_time: float | None = None
    max_array_size: int | None = None
    account: str | None = None
    qos: str | None = None

    def gres(self, resources: Resources) -> str | None:
        """``--gres`` for the GPUs asked for, naming the node's GPU type for a model."""
        count = resources.gpu_count
        if not count:
            return None
        wanted = resources.gpu_type
        if wanted is None:
            return f"gpu:{count}"
        types = sorted({t for n in self.nodes for t in n.gpus if t is not None})
        for kind in types:
            # A type called "fake" stands in for any model, as local://?gpus=N does.
            if kind == "fake" or kind.lower() == wanted.lower() or gpu_name_matches(wanted, kind):
                return f"gpu:{kind}:{count}"
        raise InvalidArgumentError(
            f"asks for {wanted} GPUs; partition {self.name} has GPU types "
            f"{', '.join(types) or 'none'}"
        )

    def inventory(self) -> str:
        """The partition's largest node, for messages about requests that do not fit."""
        if not self.nodes:
            return f"partition {self.name} has no nodes"
        biggest = max(self.nodes, key=lambda n: (n.gpu_count, n.cpus, n.memory_mb))
        return (
            f"the largest node of partition {self.name} has {biggest.cpus} CPUs, "
            f"{biggest.memory_mb} MiB and {biggest.gpu_count} GPU(s)"
        )

    def time_limit(self, spec: JobSpec) -> int | None:
        """``--time`` in minutes: all attempts with their kill grace, within MaxTime."""
        if spec.timeout is None:
            return None
        tries = spec.retries + 1
        needed = (spec.timeout + KILL_GRACE + 1) * tries + _TIME_SLACK
        if self.max_time is not None and needed > self.max_time:
            if spec.timeout * tries > self.max_time:
                raise InvalidArgumentError(
                    f"{tries} attempt(s) of {spec.timeout:g} s exceed the MaxTime of "
                    f"partition {self.name} ({self.max_time:g} s)"
                )
            return max(1, math.floor(self.max_time / 60))
        return max(1, math.ceil(needed / 60))

    def check_fits(self, spec: JobSpec) -> None:
        """Refuse what sbatch would refuse with a vaguer message, or accept and never start."""
        size = self.max_array_size
        if spec.array is not None and size and spec.array > size:
            raise InvalidArgumentError(
                f"an array of {spec.array} tasks exceeds the cluster's MaxArraySize "
                f"({size}: task indices up to {size - 1})"
            )
        cpus = spec.resources.cpus
        if cpus is not None and self.nodes and math.ceil(cpus) > max(n.cpus for n in self.nodes):
            raise InvalidArgumentError(f"asks for {cpus:g} CPUs; {self.inventory()}")

    def misfit(self, resources: Resources) -> str | None:
        """Why no single node of the partition could run ``resources``, or ``None``.

        For requests whose failure would otherwise only show in a detached process (a
        service's controller), where a refusal before anything starts is the only clear one.
        """
        try:
            self.gres(resources)  # an unknown GPU model
        except InvalidArgumentError as exc:
            return exc.message
        fits = any(
            (resources.cpus is None or math.ceil(resources.cpus) <= n.cpus)
            and (resources.memory_gb is None or resources.memory_gb * 1024 <= n.memory_mb)
            and resources.gpu_count <= n.gpu_count
            for n in self.nodes
        )
        if self.nodes and not fits:
            return f"asks for {_asked(resources)}; {self.inventory()}"
        return None

    def capacity(self, resources: Resources) -> int:
        """How many jobs of ``resources`` (one CPU when unsaid) the nodes hold at once."""
        cpus = math.ceil(resources.cpus or 1)
        memory = math.ceil(resources.memory_gb * 1024) if resources.memory_gb else None
        gpus = resources.gpu_count
        return sum(
            min(
                node.cpus // cpus,
                node.memory_mb // memory if memory else node.cpus,
                node.gpu_count // gpus if gpus else node.cpus,
            )
            for node in self.nodes
        )

    def batch_args(self, *, name: str, chdir: Path, output: Path) -> list[str]:
        """The ``sbatch`` options of every portacloud submission to this partition."""
        return [
            "--parsable",
            f"--job-name={name}",
            f"--partition={self.name}",
            "--nodes=1",
            "--ntasks=1",
            f"--chdir={chdir}",
            f"--output={output}",  # no --error: stderr goes to the same file
            "--open-mode=append",  # a requeued task keeps the earlier attempts' output
            "--export=ALL",  # the job's own variables are in the script, quoted
        ]

    def sbatch_args(self, spec: JobSpec, job_dir: Path) -> list[str]:
        """The ``sbatch`` options of ``spec``, its output going to ``job_dir``."""
        log = "slurm-%A_%a.out" if spec.array is not None else "slurm-%j.out"
        # Slurm's WorkDir leads back to the job's directory.
        args = self.batch_args(name=spec.name, chdir=job_dir, output=job_dir / log)
        if spec.array is not None:
            args.append(f"--array=0-{spec.array - 1}")
        return args + self.resource_args(spec.resources, time=self.time_limit(spec))

    def resource_args(self, res: Resources, *, time: int | None) -> list[str]:
        """``sbatch`` options for ``res``, ``--time`` in minutes, and the billing account."""
        optional = {
            "gres": self.gres(res),
            "cpus-per-task": math.ceil(res.cpus) if res.cpus is not None else None,
            "mem": f"{math.ceil(res.memory_gb * 1024)}M" if res.memory_gb is not None else None,
            "tmp": f"{math.ceil(res.disk_gb * 1024)}M" if res.disk_gb is not None else None,
            "time": time,
            "account": self.account,
            "qos": self.qos,
        }
        return [f"--{name}={value}" for name, value in optional.items() if value]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterInfo:
    """What a queue reads of the cluster when it is opened.

    Attributes:
        cluster: The cluster's ``ClusterName``.
        partition: The partition jobs go to.
        accounting: Where ended jobs are found: ``sacct`` (slurmdbd), ``completion``
            (``sacct -c``, the jobcomp/filetxt file), or ``None``.
    """

    cluster: str
    partition: Partition
    accounting: str | None


def read_partition(
    commands: SlurmCommands,
    name: str | None,
    *,
    account: str | None = None,
    qos: str | None = None,
) -> ClusterInfo:
    """Read the cluster's configuration and the partition's nodes (the default partition
    when ``name`` is ``None``)."""
    config = parse_config(commands.run("scontrol", "show", "config"))
    if name is None:
        name = _default_partition(commands)
    info = parse_pairs(commands.run("scontrol", "-o", "show", "partition", name))
    nodes = parse_nodes(commands.run("sinfo", "-h", "-N", "-p", name, "-o", "%N|%c|%m|%G"))
    if config.get("AccountingStorageType", "accounting_storage/none") not in (
        "accounting_storage/none",
        "",
    ):
        accounting: str | None = "sacct"
    elif config.get("JobCompType") == "jobcomp/filetxt":
        accounting = "completion"
    else:
        accounting = None
    partition = Partition(
        name=name,
        nodes=tuple(nodes),
        max_time=parse_time_limit(info.get("MaxTime")),
        max_array_size=_int_or_none(config.get("MaxArraySize")),
        account=account,
        qos=qos,
    )
    return ClusterInfo(
        cluster=config.get("ClusterName") or "cluster", partition=partition, accounting=accounting
    )


def _default_partition(commands: SlurmCommands) -> str:
    found = [
        parse_pairs(line)
        for line in commands.run("scontrol", "-o", "show", "partition").splitlines()
    ]
    defaults = [p["PartitionName"] for p in found if p.get("Default") == "YES"]
    if not defaults:
        raise InvalidArgumentError(
            "the cluster has no default partition: name one, slurm://PARTITION"
        )
    return defaults[0]


def _asked(res: Resources) -> str:
    parts = [
        f"{res.cpus:g} CPUs" if res.cpus is not None else "",
        f"{res.memory_gb:g} GB" if res.memory_gb is not None else "",
        f"{res.gpu_count} GPU(s)" if res.gpu_count else "",
    ]
    return ", ".join(p for p in parts if p) or "nothing"


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None

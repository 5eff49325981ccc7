"""``slurm://PARTITION`` services: one batch job per replica, behind portacloud's router.

Each service has a controller process (:mod:`portacloud.services.controller`, started on the
machine that deployed it, in its own session so that it outlives the caller) that submits
one job per replica through :class:`~portacloud_slurm.replicas.SlurmLauncher`, probes the
replicas, restarts crashed ones with backoff, rolls updates and runs the router that is the
service's endpoint (on that same machine). The service's directory,
``<state_dir>/<ClusterName>/services/<PARTITION>/<NAME>/``, holds the replicas' logs, working
directories and address files, so ``state_dir`` must be on a filesystem the nodes share.

Walltimes: with a ``walltime`` option (Slurm's syntax: ``90``, ``2:00:00``, ``1-00:00:00``)
or a partition MaxTime, every replica job gets that ``--time`` (and, from ten minutes on, a
``SIGTERM`` one to two minutes before its end: Slurm's timer has a minute's slack); the
controller starts a replacement ``renew_margin`` seconds before the end (default a quarter
of the walltime, at least 30 s more than the warning may come early, at most ten minutes),
waits until it is ready and only then stops the old replica, so a service runs on for
longer than any one job may.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import SplitResult

from pydantic import BeforeValidator, Field

from portacloud.errors import InvalidArgumentError, PortaCloudError, guarded_call
from portacloud.providerkit import parse_options
from portacloud.services.controlled import ControlledServiceDriver
from portacloud.services.models import ServiceCapabilities, ServiceSpec
from portacloud_slurm.commands import SlurmCommands, parse_time_limit
from portacloud_slurm.errors import map_slurm_error
from portacloud_slurm.jobs import SlurmOptions, checked_location
from portacloud_slurm.partition import ClusterInfo, read_partition
from portacloud_slurm.replicas import earliest_warning, whole_minutes

__all__ = ["SlurmServiceDriver", "SlurmServiceOptions", "open_slurm_services"]

#: The factory the controller loads (``--launcher MODULE:FACTORY``).
LAUNCHER = "portacloud_slurm.replicas:make_launcher"
#: The longest default renewal margin: time for the successor to wait in the queue and start.
_MAX_DEFAULT_MARGIN = 600.0
#: The least default margin: time for the successor to start and pass its probe.
_START_UP = 30.0

# GPUs and GPU types are the partition's (see SlurmServiceDriver); the rest are the defaults:
# rolling updates, restarts, logs, the router as endpoint, services that outlive the client.
_CAPABILITIES = ServiceCapabilities(
    workdir=True,
    max_replicas=100,
    notes=(
        "each replica is one batch job (--nodes=1); it picks a free port on its node and "
        "must listen on an address the deploying machine reaches",
        "the controller and the router run on the machine that deployed the service",
        "state_dir must be on a filesystem the nodes share (logs, address files, workdirs)",
        "with a walltime (option or partition MaxTime) replicas are renewed before it ends",
        "GPUs come from Slurm's gres allocation; CPU and memory are reserved by Slurm",
    ),
)


def _walltime(value: object) -> object:
    # Slurm's own syntax; a number is minutes, as for sbatch --time.
    if value in (None, ""):
        return None
    seconds = parse_time_limit(str(value))
    if seconds is None or seconds < 60:
        raise ValueError(f"walltime {value!r}: Slurm's --time syntax of at least one minute")
    return seconds


class SlurmServiceOptions(SlurmOptions):
    """The options of ``slurm://`` services (the job options, and two of their own).

    Attributes:
        walltime: Each replica job's ``--time`` (Slurm syntax; default: the partition's
            MaxTime, none where it has none), in seconds once parsed.
        renew_margin: Seconds before a replica's walltime ends at which its successor is
            started (default: a quarter of the walltime, at most 600).
    """

    walltime: Annotated[float | None, BeforeValidator(_walltime)] = None
    renew_margin: float | None = Field(default=None, gt=0)


def _renew_margin(walltime: float | None, asked: float | None) -> float | None:
    """How long before a replica's walltime its successor starts.

    It must start before the replica may get its warning SIGTERM, and after the replica
    started, or every replica would be renewed as soon as it is ready.
    """
    if walltime is None:
        return asked
    earliest = earliest_warning(walltime)
    margin = asked
    if margin is None:
        margin = min(_MAX_DEFAULT_MARGIN, max(walltime / 4, earliest + _START_UP))
    if not earliest < margin < walltime:
        floor = f"over {earliest:g} s (replicas may get SIGTERM then) and " if earliest else ""
        raise InvalidArgumentError(
            f"renew_margin {margin:g} s: with a walltime of {walltime:g} s it must be "
            f"{floor}under {walltime:g} s"
        )
    return margin


class SlurmServiceDriver(ControlledServiceDriver):
    """Services on one Slurm partition, each run by its own controller process.

    Args:
        root: Where the partition's services keep their directories.
        info: The cluster and partition.
        opts: The options it was opened with.
    """

    provider = "slurm"
    capabilities = _CAPABILITIES

    def __init__(self, root: Path, info: ClusterInfo, opts: SlurmServiceOptions) -> None:
        partition = info.partition
        walltime = opts.walltime if opts.walltime is not None else partition.max_time
        if (
            walltime is not None
            and partition.max_time is not None
            and walltime > partition.max_time
        ):
            raise InvalidArgumentError(
                f"walltime {walltime:g} s exceeds the MaxTime of partition {partition.name} "
                f"({partition.max_time:g} s)"
            )
        if walltime is not None:
            walltime = whole_minutes(walltime) * 60.0  # what the launcher asks for
        margin = _renew_margin(walltime, opts.renew_margin)
        launcher_options = {
            "partition": partition.name,
            "conf": opts.conf,
            "walltime": walltime,
            "account": opts.account,
            "qos": opts.qos,
        }
        extra = ("--renew-margin", f"{margin:g}") if margin is not None else ()
        super().__init__(
            root, launcher=LAUNCHER, launcher_options=launcher_options, controller_args=extra
        )
        self.info = info
        self.partition = partition.name
        self.walltime = walltime
        self.renew_margin = margin
        nodes = partition.nodes
        self.capabilities = _CAPABILITIES.model_copy(
            update={
                "gpus": any(n.gpu_count for n in nodes),
                "gpu_types": any(t is not None for n in nodes for t in n.gpus),
            }
        )

    def _never_runs(self, spec: ServiceSpec) -> str | None:
        partition = self.info.partition
        why = partition.misfit(spec.resources)
        if why is not None:
            return why
        # Replicas are separate jobs: more than the nodes hold at once would wait forever.
        room = partition.capacity(spec.resources)
        if partition.nodes and spec.initial_replicas > room:
            return (
                f"asks for {spec.initial_replicas} replicas; partition {partition.name} holds "
                f"at most {room} of them at once"
            )
        return None

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Slurm's client failures (the launcher's, when delete tears a service down)."""
        return map_slurm_error(exc)


def open_slurm_services(url: SplitResult, options: Mapping[str, Any]) -> SlurmServiceDriver:
    """Open ``slurm://PARTITION`` services (``slurm://`` for the default partition).

    Raises:
        InvalidArgumentError: an unknown option, a path in the URL, a missing ``conf``, a
            renewal margin that does not fit in the walltime.
        NotFoundError: the partition does not exist.
        UnsupportedError: Slurm's client commands are not installed.
        UnavailableError: the controller cannot be reached.
    """
    opts = parse_options(SlurmServiceOptions, "slurm", options)
    state_dir = checked_location(url, opts)
    info = guarded_call(
        lambda: read_partition(
            SlurmCommands(conf=opts.conf), url.netloc or None, account=opts.account, qos=opts.qos
        ),
        map_error=map_slurm_error,
        provider="slurm",
        operation="open_services",
        resource=url.netloc or None,
    )
    root = state_dir / info.cluster / "services" / info.partition.name
    return SlurmServiceDriver(root, info, opts)

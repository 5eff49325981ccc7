"""How SlurmLauncher reads Slurm's records of replica jobs (canned command output)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from portacloud.resources import Resources
from portacloud.services.launcher import LaunchState, ReplicaPlan
from portacloud.services.models import ServiceSpec
from portacloud_slurm.commands import NodeInfo, SlurmCommands
from portacloud_slurm.errors import SlurmCommandError
from portacloud_slurm.partition import ClusterInfo, Partition
from portacloud_slurm.replicas import SlurmLauncher


class CannedCommands(SlurmCommands):
    """Answers ``scontrol show job`` with one line and records every command."""

    def __init__(self, job_line: str | None) -> None:
        super().__init__(conf=None)
        self.job_line = job_line
        self.calls: list[tuple[str, ...]] = []

    def run(self, command: str, *args: str) -> str:
        self.calls.append((command, *args))
        if command == "scontrol":
            if self.job_line is None:
                raise SlurmCommandError(
                    [command, *args], 1, "slurm_load_jobs error: Invalid job id specified"
                )
            return self.job_line + "\n"
        if command == "sacct":
            return ""
        return ""


def launcher(job_line: str | None, *, max_time: float | None = None) -> SlurmLauncher:
    info = ClusterInfo(
        cluster="c", partition=Partition(name="p", max_time=max_time), accounting="completion"
    )
    return SlurmLauncher(commands=CannedCommands(job_line), info=info)


def plan(tmp_path: Path) -> ReplicaPlan:
    return ReplicaPlan(
        service="web",
        replica="web-v1-0",
        version=1,
        spec=ServiceSpec(name="web", command="serve"),
        env={},
        port=None,
        gpus=(),
        log_path=tmp_path / "logs" / "web-v1-0.log",
        workdir=tmp_path,
    )


def job(state: str, **extra: str) -> str:
    fields = {"JobId": "7", "JobName": "web-v1-0", "JobState": state, **extra}
    return " ".join(f"{k}={v}" for k, v in fields.items())


def test_running_with_its_address_and_walltime(tmp_path: Path) -> None:
    p = plan(tmp_path)
    SlurmLauncher.address_file(p).parent.mkdir(parents=True)
    SlurmLauncher.address_file(p).write_text("7 node3 41234\n")
    seen = launcher(job("RUNNING", EndTime="2026-12-05T10:00:00"), max_time=3600).poll("7", p)
    assert seen.state is LaunchState.RUNNING
    assert seen.url == "http://node3:41234"
    assert seen.expires_at == datetime.fromisoformat("2026-12-05T10:00:00").astimezone(UTC)


def test_running_without_walltime_has_no_expiry(tmp_path: Path) -> None:
    seen = launcher(job("RUNNING", EndTime="2027-12-05T10:00:00")).poll("7", plan(tmp_path))
    assert seen == seen.__class__(state=LaunchState.RUNNING)


def test_another_jobs_address_is_not_this_ones(tmp_path: Path) -> None:
    p = plan(tmp_path)
    SlurmLauncher.address_file(p).parent.mkdir(parents=True)
    SlurmLauncher.address_file(p).write_text("6 node3 41234\n")
    assert launcher(job("RUNNING")).poll("7", p).url is None


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (job("COMPLETED", ExitCode="0:0"), 0),
        (job("FAILED", ExitCode="3:0", Reason="NonZeroExitCode"), 3),
        (job("CANCELLED", ExitCode="0:15"), 143),
        (job("COMPLETING", ExitCode="0:9"), 137),  # being reaped: no longer serving
        (job("TIMEOUT", ExitCode="0:0"), 0),
    ],
)
def test_ended_jobs_exit(tmp_path: Path, line: str, code: int) -> None:
    seen = launcher(line).poll("7", plan(tmp_path))
    assert seen.state is LaunchState.EXITED
    assert seen.exit_code == code
    assert "Slurm ended it as" in (seen.reason or "")


def test_queued_job_is_pending_with_slurms_reason(tmp_path: Path) -> None:
    seen = launcher(job("PENDING", Reason="Resources")).poll("7", plan(tmp_path))
    assert (seen.state, seen.reason) == (LaunchState.PENDING, "Resources")


def test_a_job_that_can_never_start_is_cancelled_and_exits(tmp_path: Path) -> None:
    slurm = launcher(job("PENDING", Reason="PartitionTimeLimit"))
    seen = slurm.poll("7", plan(tmp_path))
    assert seen.state is LaunchState.EXITED
    assert seen.reason == "Slurm can never start it: PartitionTimeLimit"
    assert ("scancel", "7") in slurm.commands.calls  # type: ignore[attr-defined]


def test_a_forgotten_job_has_exited(tmp_path: Path) -> None:
    seen = launcher(None).poll("7", plan(tmp_path))
    assert seen.state is LaunchState.EXITED
    assert seen.reason == "Slurm no longer knows job 7"


def test_walltime_in_whole_minutes_with_a_warning_only_when_long(tmp_path: Path) -> None:
    info = ClusterInfo(cluster="c", partition=Partition(name="p"), accounting=None)
    short = SlurmLauncher(commands=CannedCommands(None), info=info, walltime=90)
    args = short.sbatch_args(plan(tmp_path))
    assert "--time=1" in args
    assert not any(a.startswith("--signal") for a in args)  # its slack would eat the job
    unlimited = launcher(None).sbatch_args(plan(tmp_path))
    assert not any(a.startswith(("--time", "--signal")) for a in unlimited)
    hour = launcher(None, max_time=3600).sbatch_args(plan(tmp_path))
    assert "--time=60" in hour
    assert "--signal=B:TERM@60" in hour


def test_capacity_counts_replicas_that_fit_at_once() -> None:
    nodes = (
        NodeInfo(name="a", cpus=8, memory_mb=4000, gpus={"a100": 2}),
        NodeInfo(name="b", cpus=2, memory_mb=64000, gpus={}),
    )
    partition = Partition(name="p", nodes=nodes)
    assert partition.capacity(Resources()) == 10  # one CPU each
    assert partition.capacity(Resources(cpus=3)) == 2
    assert partition.capacity(Resources(memory_gb=2)) == 1 + 2
    assert partition.capacity(Resources(gpus=1)) == 2
    assert partition.capacity(Resources(gpus=2, cpus=1)) == 1

"""slurm:// services against the real single-node Slurm (scripts/servers/slurm.sh).

The launcher's jobs are checked against what Slurm itself says (``scontrol``, run directly),
against the replica's own answers over HTTP and against the ports it leaves behind.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from portacloud.services.launcher import Launched, LaunchState, ReplicaPlan
from portacloud.services.models import ServiceSpec
from portacloud_slurm.commands import parse_pairs, parse_time_limit
from portacloud_slurm.replicas import SlurmLauncher

pytestmark = pytest.mark.integration

PARTITION = "debug"
WAIT = 90.0
APP = (sys.executable, "-m", "portacloud_conformance.services.app")


@pytest.fixture(scope="module")
def slurm_conf() -> str:
    conf = os.environ.get("PORTACLOUD_TEST_SLURM_CONF")
    if conf:
        return conf
    if os.environ.get("CI") == "true":
        pytest.fail("slurm not running: scripts/services.sh start (PORTACLOUD_TEST_SLURM_CONF)")
    pytest.skip("slurm not running: scripts/services.sh start")


def scontrol_job(slurm_conf: str, job_id: str) -> dict[str, str]:
    """Slurm's own record of a job, behind the launcher's back."""
    done = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id],
        capture_output=True,
        text=True,
        env={**os.environ, "SLURM_CONF": slurm_conf},
        timeout=60,
        check=True,
    )
    return parse_pairs(done.stdout)


def make_plan(state: Path, *, command: Any = APP, env: dict[str, str] | None = None) -> ReplicaPlan:
    name = f"s{uuid.uuid4().hex[:6]}"
    replica = f"{name}-v1-0"
    work = state / "work" / replica
    work.mkdir(parents=True)
    spec = ServiceSpec(name=name, command=command)
    return ReplicaPlan(
        service=name,
        replica=replica,
        version=1,
        spec=spec,
        env={"PORTACLOUD_SERVICE": name, "PORTACLOUD_REPLICA": replica, **(env or {})},
        port=None,
        gpus=(),
        log_path=state / "logs" / f"{replica}.log",
        workdir=work,
    )


@pytest.fixture
def launcher(slurm_conf: str) -> SlurmLauncher:
    return SlurmLauncher.open(partition=PARTITION, conf=slurm_conf)


@pytest.fixture
def started(launcher: SlurmLauncher, tmp_path: Path) -> Iterator[list[str]]:
    """Job ids the test started; every one is cancelled at the end, whatever happened."""
    tokens: list[str] = []
    yield tokens
    for token in tokens:
        launcher.stop(token, grace=1)


def poll_until(
    launcher: SlurmLauncher, token: str, plan: ReplicaPlan, done: Any, what: str
) -> Launched:
    deadline = time.monotonic() + WAIT
    while True:
        seen = launcher.poll(token, plan)
        if done(seen):
            return seen
        assert time.monotonic() < deadline, f"{what}: still {seen} after {WAIT} s"
        time.sleep(0.3)


def get_json(url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                data: dict[str, Any] = json.loads(response.read())
                return data
        except OSError:
            # The script writes the port before the replica binds it.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def refused(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((parts.hostname or "", parts.port or 0)) != 0


def test_replica_runs_as_a_job_on_a_port_it_picked(
    launcher: SlurmLauncher, started: list[str], tmp_path: Path, slurm_conf: str
) -> None:
    plan = make_plan(tmp_path)
    token = launcher.start(plan)
    started.append(token)
    assert token.isdigit()
    running = poll_until(launcher, token, plan, lambda s: s.url, "address")
    assert running.state is LaunchState.RUNNING
    assert running.expires_at is None  # the partition has no MaxTime and none was asked for
    answer = get_json(running.url + "/")
    assert answer["replica"] == plan.replica
    assert answer["gpus"] == ""  # no GPUs asked for: none of the node's are visible
    record = scontrol_job(slurm_conf, token)
    assert record["JobState"] == "RUNNING"
    assert record["JobName"] == plan.replica
    assert record["Partition"] == PARTITION
    assert record["TimeLimit"] == "UNLIMITED"

    launcher.stop(token, grace=5)
    ended = launcher.poll(token, plan)
    assert ended.state is LaunchState.EXITED
    assert ended.exit_code == 128 + 15  # the replica got SIGTERM
    assert refused(running.url), "the replica's port is free once stop returns"
    assert scontrol_job(slurm_conf, token)["JobState"] in ("CANCELLED", "FAILED", "COMPLETED")
    log = plan.log_path.read_text()
    assert f"serving on port {urlsplit(running.url).port}" in log


def test_a_crashing_replica_exits_with_its_code(
    launcher: SlurmLauncher, started: list[str], tmp_path: Path
) -> None:
    plan = make_plan(tmp_path, command="echo starting; echo 'bad config' >&2; exit 3")
    token = launcher.start(plan)
    started.append(token)
    ended = poll_until(launcher, token, plan, lambda s: s.state is LaunchState.EXITED, "the crash")
    assert ended.exit_code == 3
    assert ended.url is None
    assert "bad config" in plan.log_path.read_text()


def test_walltime_sets_time_signal_and_expires_at(
    slurm_conf: str, started: list[str], tmp_path: Path
) -> None:
    launcher = SlurmLauncher.open(partition=PARTITION, conf=slurm_conf, walltime=150)
    plan = make_plan(tmp_path)
    token = launcher.start(plan)
    started.append(token)
    running = poll_until(launcher, token, plan, lambda s: s.url, "address")
    record = scontrol_job(slurm_conf, token)
    assert parse_time_limit(record["TimeLimit"]) == 120  # whole minutes, never above it
    assert running.expires_at is not None
    start = datetime.fromisoformat(record["StartTime"]).astimezone(UTC)
    assert abs((running.expires_at - start).total_seconds() - 120) <= 1
    assert "--signal=B:TERM@60" in launcher.sbatch_args(plan)


def test_a_stale_address_file_is_not_read(
    launcher: SlurmLauncher, started: list[str], tmp_path: Path
) -> None:
    """A replica restarted under the same id never gets its previous job's port."""
    plan = make_plan(tmp_path, command="sleep 60")
    token = launcher.start(plan)
    started.append(token)
    SlurmLauncher.address_file(plan).write_text("1 vm 1\n")
    running = poll_until(launcher, token, plan, lambda s: s.state is LaunchState.RUNNING, "running")
    # The script writes its own address at once: either it is there, or nothing is.
    assert running.url is None or not running.url.endswith(":1")
    running = poll_until(launcher, token, plan, lambda s: s.url, "address")
    assert not running.url.endswith(":1")


def test_stopping_a_queued_or_ended_replica(
    launcher: SlurmLauncher, tmp_path: Path, slurm_conf: str
) -> None:
    plan = make_plan(tmp_path, command="true")
    token = launcher.start(plan)
    launcher.stop(token, grace=1)  # queued or running: cancelled either way
    ended = poll_until(launcher, token, plan, lambda s: s.state is LaunchState.EXITED, "end")
    assert ended.url is None
    launcher.stop(token, grace=1)  # stopping an ended one is not an error
    assert scontrol_job(slurm_conf, token)["JobState"] in ("CANCELLED", "COMPLETED")

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

import portacloud
from portacloud import ServiceState, ServiceStatus
from portacloud.services.launcher import Launched, LaunchState, ReplicaPlan
from portacloud.services.models import ServiceSpec
from portacloud_conformance.services.support import RequestLoop
from portacloud_slurm.commands import parse_pairs, parse_time_limit
from portacloud_slurm.jobs import provider
from portacloud_slurm.replicas import SlurmLauncher

pytestmark = pytest.mark.integration

PARTITION = "debug"
WAIT = 90.0
APP = (sys.executable, "-m", "portacloud_conformance.services.app")


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


def launch(launcher: SlurmLauncher, started: list[str], plan: ReplicaPlan) -> str:
    """Start a replica; the ``started`` fixture stops it after the test, whatever happens."""
    token = launcher.start(plan)
    started.append(token)
    return token


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
    token = launch(launcher, started, plan)
    assert token.isdigit()
    running = poll_until(launcher, token, plan, lambda s: s.url, "address")
    assert running.state is LaunchState.RUNNING
    assert running.expires_at is None  # the partition has no MaxTime and none was asked for
    url = running.url or ""
    answer = get_json(url + "/")
    assert answer["replica"] == plan.replica
    assert answer["gpus"] == ""  # no GPUs asked for: none of the node's are visible
    record = scontrol_job(slurm_conf, token)
    assert record["JobState"] == "RUNNING"
    assert record["JobName"] == plan.replica
    assert record["Partition"] == PARTITION
    # No --time: Slurm shows UNLIMITED, or a year where its backfill scheduler started it.
    assert record["TimeLimit"] in ("UNLIMITED", "365-00:00:00"), record

    launcher.stop(token, grace=5)
    ended = launcher.poll(token, plan)
    assert ended.state is LaunchState.EXITED
    assert ended.exit_code == 128 + 15  # the replica got SIGTERM
    assert refused(url), "the replica's port is free once stop returns"
    assert scontrol_job(slurm_conf, token)["JobState"] in ("CANCELLED", "FAILED", "COMPLETED")
    log = plan.log_path.read_text()
    assert f"serving on port {urlsplit(url).port}" in log


def test_a_crashing_replica_exits_with_its_code(
    launcher: SlurmLauncher, started: list[str], tmp_path: Path
) -> None:
    plan = make_plan(tmp_path, command="echo starting; echo 'bad config' >&2; exit 3")
    token = launch(launcher, started, plan)
    ended = poll_until(launcher, token, plan, lambda s: s.state is LaunchState.EXITED, "the crash")
    assert ended.exit_code == 3
    assert ended.url is None
    assert "bad config" in plan.log_path.read_text()


def test_walltime_sets_time_signal_and_expires_at(
    slurm_conf: str, started: list[str], tmp_path: Path
) -> None:
    launcher = SlurmLauncher.open(partition=PARTITION, conf=slurm_conf, walltime=150)
    plan = make_plan(tmp_path)
    token = launch(launcher, started, plan)
    running = poll_until(launcher, token, plan, lambda s: s.url, "address")
    record = scontrol_job(slurm_conf, token)
    assert parse_time_limit(record["TimeLimit"]) == 120  # whole minutes, never above it
    assert running.expires_at is not None
    start = datetime.fromisoformat(record["StartTime"]).astimezone(UTC)
    assert abs((running.expires_at - start).total_seconds() - 120) <= 1
    # Under ten minutes no early warning: Slurm may send it a minute before it was asked for.
    assert not any(a.startswith("--signal") for a in launcher.sbatch_args(plan))


def test_a_stale_address_file_is_not_read(
    launcher: SlurmLauncher, started: list[str], tmp_path: Path
) -> None:
    """A replica restarted under the same id never gets its previous job's port."""
    plan = make_plan(tmp_path, command="sleep 60")
    token = launch(launcher, started, plan)
    SlurmLauncher.address_file(plan).write_text("1 vm 1\n")
    running = poll_until(launcher, token, plan, lambda s: s.state is LaunchState.RUNNING, "running")
    # The script writes its own address at once: either it is there, or nothing is.
    assert running.url is None or not running.url.endswith(":1")
    running = poll_until(launcher, token, plan, lambda s: s.url, "address")
    assert not (running.url or "").endswith(":1")


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


# ---------------------------------------------------------------------- slurm:// services


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PORTACLOUD_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def app_spec(replicas: int = 1, **fields: Any) -> ServiceSpec:
    return ServiceSpec(
        name=f"s{uuid.uuid4().hex[:6]}",
        command=APP,
        replicas=replicas,
        readiness={"path": "/healthz", "period": 0.3, "timeout": 2.0},
        **fields,
    )


def test_each_replica_is_a_job_behind_the_router(slurm_conf: str, home: Path) -> None:
    with portacloud.open_services(f"slurm://{PARTITION}", conf=slurm_conf) as services:
        spec = app_spec(replicas=2)
        services.deploy(spec)
        try:
            status = services.wait(spec.name, timeout=WAIT)
            assert status.endpoint_url is not None
            seen = {get_json(status.endpoint_url + "/")["replica"] for _ in range(8)}
            assert seen == {r.id for r in status.replicas}
            jobs = controller_tokens(home, spec.name)
            assert sorted(jobs) == sorted(r.id for r in status.replicas)
            for replica, job_id in jobs.items():
                record = scontrol_job(slurm_conf, job_id)
                assert (record["JobName"], record["JobState"]) == (replica, "RUNNING")
        finally:
            services.delete(spec.name)
        for job_id in jobs.values():
            assert scontrol_job(slurm_conf, job_id)["JobState"] in ("CANCELLED", "FAILED")
        assert all(refused(r.url) for r in status.replicas if r.url is not None)


def controller_tokens(home: Path, name: str) -> dict[str, str]:
    """Replica id -> Slurm job id, from the controller's own records."""
    (path,) = home.glob(f"slurm/*/services/{PARTITION}/{name}/controller.json")
    replicas = json.loads(path.read_text())["replicas"]
    return {r["id"]: r["token"] for r in replicas if r.get("token")}


def test_replicas_are_renewed_before_their_walltime(slurm_conf: str, home: Path) -> None:
    """With a one-minute walltime the successor starts 30 s before the end (the default
    margin), is ready before the old job is stopped, and traffic never fails."""
    url = f"slurm://{PARTITION}?walltime=1"
    driver = provider.open_services(urlsplit(url), {"conf": slurm_conf, "walltime": "1"})
    assert (driver.walltime, driver.renew_margin) == (60.0, 30.0)
    with portacloud.open_services(url, conf=slurm_conf) as services:
        spec = app_spec()
        services.deploy(spec)
        try:
            first = services.wait(spec.name, timeout=WAIT)
            (old,) = first.replicas
            old_job = controller_tokens(home, spec.name)[old.id]
            expires = datetime.fromisoformat(scontrol_job(slurm_conf, old_job)["EndTime"])
            assert first.endpoint_url is not None
            with RequestLoop(first.endpoint_url) as loop:
                renewed = wait_renewed(services, spec.name, old.id, WAIT)
                time.sleep(2)
            assert loop.failures == []
            assert loop.ok > 0
            (new,) = renewed.replicas
            assert new.id != old.id
            # The old job was stopped by the controller, before Slurm's walltime ended it.
            record = scontrol_job(slurm_conf, old_job)
            assert record["JobState"] in ("CANCELLED", "FAILED", "COMPLETED")
            ended = datetime.fromisoformat(record["EndTime"])
            assert ended < expires
        finally:
            services.delete(spec.name)


def wait_renewed(
    services: portacloud.Services, name: str, old: str, timeout: float
) -> ServiceStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = services.get(name)
        ids = [r.id for r in status.replicas]
        if status.state is ServiceState.READY and ids and old not in ids:
            return status
        assert time.monotonic() < deadline, f"not renewed: {status}"
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("walltime=1&renew_margin=60", "renew_margin"),  # renewed as soon as it is ready
        ("walltime=10&renew_margin=100", "over 120 s"),  # the warning may come 2 min early
        ("walltime=soon", "walltime"),
        ("walltime=0:30", "walltime"),
    ],
)
def test_walltime_options_are_checked(slurm_conf: str, home: Path, query: str, words: str) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match=words):
        portacloud.open_services(f"slurm://{PARTITION}?{query}", conf=slurm_conf)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"resources": {"cpus": 64}}, "64 CPUs"),
        ({"resources": {"gpus": 3}}, "3 GPU"),
        ({"resources": {"gpus": 2}, "replicas": 2}, "2 replicas; .* at most 1 of them"),
        ({"replicas": 90}, "90 replicas; .* at most"),  # a CPU each: more than the node has
        ({"resources": {"memory_gb": 100}}, "100 GB"),
    ],
)
def test_requests_no_node_can_run_are_refused_before_anything_starts(
    slurm_conf: str, home: Path, fields: dict[str, Any], words: str
) -> None:
    with portacloud.open_services(f"slurm://{PARTITION}", conf=slurm_conf) as services:
        spec = app_spec(**fields)
        with pytest.raises(portacloud.InvalidArgumentError, match=words):
            services.deploy(spec)
        assert not list(home.glob(f"slurm/*/services/{PARTITION}/{spec.name}"))

"""Sharded migrations (``portacloud migrate --on``) on real job backends and real storage.

SeaweedFS -> Azurite through ``local://``, the Ray head and the Slurm controller of
scripts/services.sh (.lab/services.env). A missing server skips, and fails when CI=true. Each
run ends with a receipt whose digest over the sorted keys, sizes and CRC32Cs must equal the
one computed from the bytes written to the source, and the one of a single-process migration.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from server_buckets import azure_container, require, s3_bucket
from shard_support import (
    expected_digest,
    files_containing,
    fill,
    kill_9,
    migrate_args,
    progress_file,
    receipt_digest,
    run,
    server_env,
    state_objects,
    wait_until,
    worker_pids,
)

from portacloud.migrate import migrate
from portacloud.migrate.shards import migration_id

pytestmark = pytest.mark.integration

#: The Azurite account key: a credential the tasks need and nothing may write down.
AZURITE_KEY = b"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"


def _summary(lines: list[dict[str, object]]) -> dict[str, object]:
    return next(e for e in lines if e["event"] == "summary")


def _queue(kind: str) -> str:
    if kind == "local":
        return "local://"
    variable = {"ray": "PORTACLOUD_JOBS_TARGET_RAY", "slurm": "PORTACLOUD_JOBS_TARGET_SLURM"}
    return require(variable[kind], f"the {kind} cluster")


# 2,000 objects once per cluster backend; local:// (also run by the kill tests) with fewer.
@pytest.mark.parametrize(("kind", "count"), [("local", 400), ("ray", 2000), ("slurm", 2000)])
def test_objects_in_4_shards_verified(
    kind: str, count: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = _queue(kind)
    with (
        s3_bucket(monkeypatch) as src,
        azure_container(monkeypatch) as dst,
        s3_bucket(monkeypatch) as state_bucket,
    ):
        # The state in a bucket of its own: portable storage every worker reaches.
        base, query = state_bucket.split("?")
        state = f"{base}/migrations?{query}"
        env = server_env(tmp_path / "home")
        data = fill(src, count, seed=17)
        # Ray's workers do not inherit this environment: the credentials are forwarded by name.
        names = "AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AZURE_STORAGE_CONNECTION_STRING"
        # -j 4: four tasks keep Azurite at the 16 requests at a time of a single-process run.
        args = migrate_args(src, dst, "--on", on, "--shards", "4", "-j", "4", "--state", state)
        code, lines = run([*args, "--forward-env", names], env)
        assert code == 0, lines[-3:]
        summary = _summary(lines)
        assert summary["ok"]
        assert summary["verified"] == count
        forwarded = next(e for e in lines if e["event"] == "forward-env")
        assert set(forwarded["env"].values()) == {"***"}
        assert receipt_digest(str(summary["receipt"])) == expected_digest(data)
        progress = [progress_file(state, i) for i in range(4)]
        assert all(p is not None and p["state"] == "done" for p in progress)
        assert sum(p["objects"] for p in progress if p) == count
        # The credentials are nowhere: not in the state folder's journals, progress, receipts.
        kept = state_objects(state)
        assert any(k.endswith("/journal.sqlite") for k in kept)
        assert [k for k, v in kept.items() if AZURITE_KEY in v] == []
    # Nor on disk: the job store (the local store, the Slurm job directories and their batch
    # scripts), the logs, the merged receipt.
    written = [p for p in (tmp_path / "home").rglob("*") if p.is_file()]
    assert written, "nothing was written under PORTACLOUD_HOME: the check is empty"
    assert files_containing(tmp_path / "home", AZURITE_KEY) == []
    if kind == "ray":
        url = on.replace("ray://", "http://") + "/api/jobs/"
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert AZURITE_KEY not in answer.read()


def test_killed_task_is_retried_and_matches_a_single_process_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with (
        s3_bucket(monkeypatch) as src,
        azure_container(monkeypatch) as dst,
        azure_container(monkeypatch) as single,
    ):
        env = server_env(tmp_path / "home")
        data = fill(src, 600, seed=23)
        args = migrate_args(src, dst, "--on", "local://", "--shards", "3", "-j", "1")
        coordinator = subprocess.Popen(
            [*args, "--state", state.as_uri()], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            # Mid-way through shard 1's copies: kill -9 its worker, never the coordinator.
            wait_until(
                lambda: (progress_file(state, 1) or {}).get("objects", 0) >= 20,
                120,
                "shard 1 to copy",
            )
            pids = worker_pids(migration_id(src, dst), 1)
            assert pids, "shard 1's worker is not running"
            kill_9(pids)
            out, _ = coordinator.communicate(timeout=240)
        finally:
            coordinator.kill()
        summary = next(e for e in map(json.loads, out.splitlines()) if e["event"] == "summary")
        assert summary["ok"], summary["failures"]
        retried = progress_file(state, 1)
        assert retried is not None
        assert retried["attempt"] == 2
        assert retried["state"] == "done"
        alone = migrate(src, single, journal=tmp_path / "single.sqlite")
        assert alone.ok
        assert alone.receipt is not None
        assert receipt_digest(str(summary["receipt"])) == receipt_digest(alone.receipt)
        assert receipt_digest(alone.receipt) == expected_digest(data)


def test_killed_coordinator_is_replaced_by_the_same_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with s3_bucket(monkeypatch) as src, azure_container(monkeypatch) as dst:
        env = server_env(tmp_path / "home")
        data = fill(src, 400, seed=29)
        args = migrate_args(src, dst, "--on", "local://", "--shards", "2", "-j", "2")
        args += ["--state", state.as_uri()]
        coordinator = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
        try:
            wait_until(lambda: (progress_file(state, 0) or {}).get("objects", 0) > 0, 120, "a copy")
        finally:
            coordinator.kill()  # SIGKILL: the coordinator dies, the job runs on
            coordinator.wait()
        code, status = run([*migrate_args(src, dst, "--status", "--state", state.as_uri())], env)
        assert code == 0
        assert status[0]["found"]
        assert len(status[0]["shards"]) == 2
        code, lines = run(args, env)
        assert code == 0
        summary = _summary(lines)
        assert summary["ok"]
        assert summary["verified"] == 400
        assert receipt_digest(str(summary["receipt"])) == expected_digest(data)


def test_a_shard_that_keeps_failing_fails_with_its_keys(tmp_path: Path) -> None:
    src, dst, state = (tmp_path / n for n in ("src", "dst", "state"))
    for i in range(60):
        folder = src / f"d{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"k{i:03d}").write_bytes(b"x" * (i + 1))
    dst.mkdir()
    state.mkdir()
    # A file where shard 2's folder must go: each of its writes fails, every attempt.
    (dst / "d2").write_bytes(b"in the way")
    env = server_env(tmp_path / "home")
    args = migrate_args(src.as_uri(), dst.as_uri(), "--on", "local://", "--shards", "3")
    code, lines = run([*args, "--state", state.as_uri(), "--retries", "1"], env)
    assert code == 1
    summary = _summary(lines)
    failed = {f["key"] for f in summary["failures"]}  # type: ignore[union-attr]
    assert failed == {f"d2/k{i:03d}" for i in range(2, 60, 3)}
    assert summary["receipt"] is None
    # The other shards are kept: copied, verified, done.
    assert sorted(p.name for p in (dst / "d0").iterdir()) == [f"k{i:03d}" for i in range(0, 60, 3)]
    assert (progress_file(state, 0) or {})["state"] == "done"
    assert (progress_file(state, 2) or {})["attempt"] == 2

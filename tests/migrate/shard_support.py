"""Helpers of the sharded-migration tests: the CLI, worker processes, receipts."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from migrate_helpers import RUNNER, json_lines

import portacloud
from portacloud.checksums import crc32c_hex

WORKER = "portacloud.migrate.shard_worker"


def server_env(home: Path) -> dict[str, str]:
    """The environment the CLI (and the tasks that inherit it) runs with: this one (where the
    bucket fixtures put the servers' credentials) with its own ``PORTACLOUD_HOME``."""
    env = {**os.environ, "PORTACLOUD_HOME": str(home)}
    if "PORTACLOUD_TEST_SLURM_CONF" in os.environ:
        env["SLURM_CONF"] = os.environ["PORTACLOUD_TEST_SLURM_CONF"]
    return env


def fill(url: str, count: int, *, seed: int, max_size: int = 4096) -> dict[str, bytes]:
    """Write ``count`` objects of seeded random bytes, 16 at a time."""
    rng = random.Random(seed)
    data = {f"d{i % 10}/obj-{i:05d}": rng.randbytes(rng.randint(1, max_size)) for i in range(count)}
    with portacloud.open_bucket(url) as bucket, ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda item: bucket.put(*item), data.items()))
    return data


def expected_digest(data: dict[str, bytes]) -> str:
    """SHA-256 over the sorted keys with their sizes and CRC32Cs: what any complete
    migration of ``data`` must end with."""
    lines = (f"{k}\t{len(v)}\t{crc32c_hex(v)}\n" for k, v in sorted(data.items()))
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def receipt_digest(path: str | Path) -> str:
    """The same digest over a receipt's lines (in its own order: it must be sorted)."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    lines = (f"{r['key']}\t{r['size']}\t{r['crc32c']}\n" for r in rows)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def migrate_args(src: str, dst: str, *extra: str) -> list[str]:
    """argv of the CLI runner for ``portacloud migrate SRC DST --json EXTRA``."""
    return [sys.executable, str(RUNNER), "migrate", src, dst, "--json", *extra]


def run(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, list[Any]]:
    """Run the CLI; its exit code and JSON lines (stderr shown on failure)."""
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
    return done.returncode, json_lines(done.stdout)


def state_objects(state: str) -> dict[str, bytes]:
    """Every object of a state folder (any backend), by key."""
    with portacloud.open_bucket(state) as bucket:
        return {
            o.key: bucket.get(o.key) for o in bucket.list() if isinstance(o, portacloud.ObjectInfo)
        }


def progress_file(state: str | Path, index: int) -> dict[str, Any] | None:
    """A shard's progress.json in a state folder (holding one migration), or ``None``."""
    url = state.as_uri() if isinstance(state, Path) else state
    suffix = f"/shard-{index:04d}/progress.json"
    with portacloud.open_bucket(url) as bucket:
        for entry in bucket.list():
            if entry.key.endswith(suffix):
                try:
                    return dict(json.loads(bucket.get(entry.key)))
                except portacloud.NotFoundError:
                    return None  # replaced between the listing and the read
    return None


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until it holds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def worker_pids(migration: str, task: int) -> list[int]:
    """Processes running the shard worker of ``migration`` as task ``task`` of its array."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = WORKER.encode() in cmdline and migration.encode() in cmdline
        if ours and f"PORTACLOUD_TASK_INDEX={task}".encode() in environ:
            found.append(int(entry.name))
    return found


def kill_9(pids: list[int]) -> None:
    """SIGKILL each process (the ones this test found by their command line)."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]

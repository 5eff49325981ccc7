"""Helpers of the sharded-migration tests: real buckets, the CLI, worker processes, receipts."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from migrate_helpers import RUNNER, json_lines

import portacloud
from portacloud.checksums import crc32c_hex

SEAWEEDFS = "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT"
AZURITE = "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING"
WORKER = "portacloud.migrate.shard_worker"


def require(variable: str, server: str) -> str:
    """The variable's value; skip without it, or fail under CI=true."""
    value = os.environ.get(variable)
    if value:
        return value
    message = f"{server} is not running ({variable} is unset): scripts/services.sh start"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _name() -> str:
    return f"pcshard-{uuid.uuid4().hex[:12]}"


@contextmanager
def seaweed_bucket() -> Iterator[str]:
    """A fresh SeaweedFS bucket (removed after), as a portacloud URL."""
    endpoint = require(SEAWEEDFS, "SeaweedFS")
    pytest.importorskip("portacloud_aws", reason="portacloud-aws is not installed")
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",  # the local server's throw-away identity
        aws_secret_access_key="testing",
    )
    name = _name()
    client.create_bucket(Bucket=name)
    try:
        yield f"s3://{name}?endpoint_url={endpoint}"
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=name)


@contextmanager
def azurite_container() -> Iterator[str]:
    """A fresh Azurite container (removed after), as a portacloud URL."""
    conn = require(AZURITE, "Azurite")
    pytest.importorskip("portacloud_azure", reason="portacloud-azure is not installed")
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(conn)
    name = _name()
    service.create_container(name)
    try:
        yield f"az://{name}"
    finally:
        service.delete_container(name)


def server_env(home: Path) -> dict[str, str]:
    """The environment the CLI (and the tasks that inherit it) runs with."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PORTACLOUD_HOME=str(home),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    if AZURITE in os.environ:
        env["AZURE_STORAGE_CONNECTION_STRING"] = os.environ[AZURITE]
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


def progress_file(state: Path, index: int) -> dict[str, Any] | None:
    """A shard's progress.json in a file:// state folder (the only migration in it)."""
    found = list(state.glob(f"*/shard-{index:04d}/progress.json"))
    return json.loads(found[0].read_text()) if found else None


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

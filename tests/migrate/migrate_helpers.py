"""Helpers for the migration tests: buckets with known contents, and the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.storage.models import ObjectInfo

#: Key -> (bytes, metadata): what load_objects writes and check_objects expects.
Objects = dict[str, tuple[bytes, dict[str, str]]]

RUNNER = Path(__file__).with_name("cli_runner.py")


def run_cli(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``portacloud ARGS`` with stdout piped (so not a terminal)."""
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Parse every stdout line as JSON (failing the test on any line that is not)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def events(stdout: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in json_lines(stdout) if e["event"] == kind]


def fill(
    bucket: portacloud.Bucket,
    count: int,
    *,
    seed: int,
    prefix: str = "",
    max_size: int = 64 * 1024,
) -> dict[str, bytes]:
    """Write ``count`` objects of 1 byte to ``max_size`` with seeded random bytes."""
    rng = random.Random(seed)
    written: dict[str, bytes] = {}
    for i in range(count):
        key = f"{prefix}d{i % 7}/obj-{i:05d}.bin"
        data = rng.randbytes(rng.randint(1, max_size))
        bucket.put(key, data, content_type="application/octet-stream", metadata={"n": str(i)})
        written[key] = data
    return written


def contents(bucket: portacloud.Bucket) -> dict[str, bytes]:
    """Every object of a bucket with its bytes."""
    return {e.key: bucket.get(e.key) for e in bucket.list() if isinstance(e, ObjectInfo)}


def file_etags(root: Path) -> dict[str, str]:
    """The file backend's etag (inode, mtime, size) of every object under ``root``."""
    found: dict[str, str] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        # Temp files and sidecars (any segment starting with .portacloud) are not objects.
        if any(part.startswith(".portacloud") for part in rel.split("/")) or not path.is_file():
            continue
        st = path.stat()
        found[rel] = f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"
    return found


def load_objects(url: str, objects: Objects) -> None:
    """Write ``objects`` to the bucket at ``url`` (content type ``application/x-test``)."""
    with portacloud.open_bucket(url) as bucket:
        for key, (data, meta) in objects.items():
            bucket.put(key, data, content_type="application/x-test", metadata=meta)


def check_objects(url: str, objects: Objects) -> None:
    """The bucket at ``url`` holds exactly ``objects``: keys, bytes, CRC32C, type, metadata."""
    with portacloud.open_bucket(url) as bucket:
        keys = {e.key for e in bucket.list() if isinstance(e, ObjectInfo)}
        assert keys == set(objects)
        for key, (data, meta) in objects.items():
            head = bucket.head(key)
            assert head.crc32c == crc32c_hex(data)
            assert head.content_type == "application/x-test"
            assert dict(head.metadata) == meta
            assert bucket.get(key) == data

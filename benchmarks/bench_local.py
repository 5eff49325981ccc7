"""The file:// backend against plain file I/O doing the same work.

1,000 objects of 64 KiB written and read back (median of 3 rounds each). Two plain baselines:
`naive` (open, write, close; no durability) and `durable` (temp file, fsync, rename: the same
guarantees portacloud gives). Reported as ratios, never asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import portacloud

COUNT = 1000
SIZE = 64 * 1024
ROUNDS = 3


def timed(fn: Callable[[], None]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def naive_put(root: Path, keys: list[str], data: bytes) -> None:
    for k in keys:
        p = root / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def naive_get(root: Path, keys: list[str]) -> None:
    for k in keys:
        (root / k).read_bytes()


def durable_put(root: Path, keys: list[str], data: bytes) -> None:
    for k in keys:
        p = root / k
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = root / f".{uuid.uuid4().hex}"
        with open(tmp_path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, p)


def portacloud_put(bucket: portacloud.Bucket, keys: list[str], data: bytes) -> None:
    for k in keys:
        bucket.put(k, data)


def portacloud_get(bucket: portacloud.Bucket, keys: list[str]) -> None:
    for k in keys:
        bucket.get(k)


def main() -> None:
    data = os.urandom(SIZE)
    keys = [f"d{i % 10}/obj-{i:05d}" for i in range(COUNT)]
    names = ("portacloud_put", "portacloud_get", "naive_put", "naive_get", "durable_put")
    results: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            bucket = portacloud.open_bucket((root / "pc").as_uri())
            results["portacloud_put"].append(timed(partial(portacloud_put, bucket, keys, data)))
            results["portacloud_get"].append(timed(partial(portacloud_get, bucket, keys)))
            results["naive_put"].append(timed(partial(naive_put, root / "plain", keys, data)))
            results["naive_get"].append(timed(partial(naive_get, root / "plain", keys)))
            results["durable_put"].append(timed(partial(durable_put, root / "durable", keys, data)))
    med = {k: statistics.median(v) for k, v in results.items()}
    report = {
        "work": f"{COUNT} objects x {SIZE // 1024} KiB, median of {ROUNDS}",
        "seconds": med,
        "ratios": {
            "put_vs_durable_plain": med["portacloud_put"] / med["durable_put"],
            "put_vs_naive_plain": med["portacloud_put"] / med["naive_put"],
            "get_vs_plain": med["portacloud_get"] / med["naive_get"],
        },
    }
    (Path(__file__).parent / "results" / "local.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

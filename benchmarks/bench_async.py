"""``AsyncBucket`` against obstore's native async API: 1,000 x 64 KiB GETs with asyncio.gather.

One SeaweedFS (``weed mini``) on private ports (``--ports-base``, default 29300), started and
stopped by PID here. The same objects are read, in one run, by:

- obstore's ``get_async`` + ``bytes_async``, all 1,000 gathered at once (its own concurrency);
- obstore's async API with at most 16 in flight (a semaphore), the AsyncBucket's thread count;
- ``AsyncBucket`` on ``engine=obstore`` (native async, 16 requests in flight at most) and on
  ``engine=sdk`` (boto3 on 16 threads).

Each figure is the median of ``--rounds`` rounds; ratios are to obstore with 16 in flight.
Timings are reported, never asserted. Results: benchmarks/results/async.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_storage import Servers, isolate_aws_env  # siblings: benchmarks/ is on sys.path
from storage_clients import SMALL, s3_store

import portacloud

RESULTS = Path(__file__).resolve().parent / "results"
COUNT = 1000
BODY = os.urandom(SMALL)
IN_FLIGHT = 16


def _obstore_reader(store: Any, limit: int | None) -> Callable[[list[str]], Awaitable[None]]:
    import obstore

    gate = asyncio.Semaphore(limit) if limit else None

    async def one(key: str) -> None:
        if gate is None:
            data = await (await obstore.get_async(store, key)).bytes_async()
        else:
            async with gate:
                data = await (await obstore.get_async(store, key)).bytes_async()
        assert len(data) == SMALL

    async def every(keys: list[str]) -> None:
        await asyncio.gather(*(one(k) for k in keys))

    return every


def _portacloud_reader(bucket: portacloud.AsyncBucket) -> Callable[[list[str]], Awaitable[None]]:
    async def every(keys: list[str]) -> None:
        blobs = await asyncio.gather(*(bucket.get(k) for k in keys))
        assert all(len(b) == SMALL for b in blobs)

    return every


async def _median(
    read: Callable[[list[str]], Awaitable[None]], keys: list[str], rounds: int
) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await read(keys)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _measure(endpoint: str, rounds: int) -> dict[str, float]:
    bucket = "bench-async"
    store = s3_store(endpoint, bucket)
    keys = [f"k/{i:05}" for i in range(COUNT)]
    url = f"s3://{bucket}?endpoint_url={endpoint}"
    async with portacloud.open_async_bucket(url, max_workers=IN_FLIGHT) as filler:
        await asyncio.gather(*(filler.put(k, BODY) for k in keys))
    found: dict[str, float] = {}
    found["obstore_unbounded"] = await _median(_obstore_reader(store, None), keys, rounds)
    found["obstore_16"] = await _median(_obstore_reader(store, IN_FLIGHT), keys, rounds)
    for engine in ("obstore", "sdk"):
        opened = portacloud.open_async_bucket(f"{url}&engine={engine}", max_workers=IN_FLIGHT)
        async with opened as b:
            await b.get(keys[0])  # connections and the driver warm, as for obstore's store
            found[f"portacloud_async_{engine}"] = await _median(_portacloud_reader(b), keys, rounds)
    return found


def _markdown(report: dict[str, Any]) -> str:
    base = report["seconds"]["obstore_16"]
    lines = [
        "# AsyncBucket against obstore's async API",
        "",
        f"- Date: {report['date']}",
        f"- Machine: {report['machine']}",
        f"- Method: {report['method']}",
        "",
        "| client | seconds | / obstore (16 in flight) |",
        "|---|---|---|",
    ]
    for name, seconds in report["seconds"].items():
        lines.append(f"| {name} | {seconds:.3f} | {seconds / base:.2f}x |")
    lines += ["", report["reading"], ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ports-base", type=int, default=29300)
    args = parser.parse_args()
    isolate_aws_env()
    with tempfile.TemporaryDirectory(prefix="bench-async-") as tmp:
        servers = Servers(args.ports_base, Path(tmp))
        try:
            servers.start({"s3"})
            import boto3

            boto3.client("s3", endpoint_url=servers.s3, region_name="us-east-1").create_bucket(
                Bucket="bench-async"
            )
            seconds = asyncio.run(_measure(servers.s3, args.rounds))
        finally:
            servers.stop()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs shared with the server, {platform.platform()}, "
        f"Python {sys.version.split()[0]}",
        "method": f"median of {args.rounds} rounds; {COUNT} x {SMALL // 1024} KiB GETs "
        "gathered at once on SeaweedFS weed mini",
        "seconds": seconds,
        "reading": "On engine=obstore AsyncBucket is native async (capabilities.native_async): "
        "each GET is obstore's get_async, at most 16 in flight (max_workers), so the ratio to "
        "obstore's own async API with 16 in flight is the cost "
        "of portacloud's per-call work (key checks, the asyncio retry loop, error mapping, "
        "CRC32C of every whole read). On engine=sdk it runs the blocking Bucket (boto3) on a "
        "16-thread pool.",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "async.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "async.md").write_text(_markdown(report))
    print(_markdown(report))


if __name__ == "__main__":
    main()

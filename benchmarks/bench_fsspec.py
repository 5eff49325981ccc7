"""portacloud's fsspec filesystem against obstore.fsspec and s3fs on one S3 server (SeaweedFS).

Three reads, best of ``ROUNDS``: ``pd.read_parquet`` of one column of a 256 MiB file with 16
row groups, of a whole 64 MiB file, and ``dask.dataframe.read_parquet`` of 64 parts. Also the
bytes portacloud fetched for the one-column read against what the footer and that column's
chunks weigh. Ratios are reported, never asserted.

    PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT=http://127.0.0.1:19020 python benchmarks/bench_fsspec.py

``BENCH_FSSPEC_MB`` scales the big file (default 256; the whole-file read is a quarter of it).
s3fs is compared when it is importable; it is not in the workspace (aiobotocore pins an older
botocore than the workspace's boto3), so run it in an overlay:
``uv run --no-sync --with s3fs==2026.9.0 python benchmarks/bench_fsspec.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

RESULTS = Path(__file__).parent / "results"
ROUNDS = 3
COLUMNS = 8


def _table(megabytes: int, seed: int) -> pa.Table:
    rows = megabytes * 2**20 // (8 * COLUMNS)
    rng = np.random.default_rng(seed)
    return pa.table({f"c{i}": rng.random(rows) for i in range(COLUMNS)})


def _parquet(table: pa.Table, row_groups: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=-(-table.num_rows // row_groups), compression=None)
    return sink.getvalue()


def _best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _column_bytes(blob: bytes, column: str) -> int:
    meta = pq.ParquetFile(io.BytesIO(blob)).metadata
    index = meta.schema.names.index(column)
    chunks = sum(
        meta.row_group(i).column(index).total_compressed_size for i in range(meta.num_row_groups)
    )
    return int(chunks + meta.serialized_size + 8)


def _s3_setup(endpoint: str) -> str:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    name = f"bench-fsspec-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


def _drop_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).delete_bucket(Bucket=name)


def _filesystems(endpoint: str, bucket: str) -> dict[str, tuple[Any, str]]:
    """name -> (fsspec filesystem, path prefix of the bucket's keys on it)."""
    from obstore.fsspec import FsspecStore

    from portacloud.fsspec import PortaCloudFileSystem

    portacloud_fs = PortaCloudFileSystem(
        storage=f"s3://{bucket}?endpoint_url={endpoint}", skip_instance_cache=True
    )
    obstore_fs = FsspecStore(
        "s3",
        config={
            "endpoint": endpoint,
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "region": "us-east-1",
            "virtual_hosted_style_request": False,
        },
        client_options={"allow_http": True},
        skip_instance_cache=True,
    )
    found = {"portacloud": (portacloud_fs, ""), "obstore.fsspec": (obstore_fs, f"{bucket}/")}
    try:
        import s3fs
    except ImportError:
        return found
    vendor = s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"},
        skip_instance_cache=True,
    )
    found["s3fs"] = (vendor, f"{bucket}/")
    return found


def _upload(fs: Any, big: bytes, whole: bytes, parts: list[bytes]) -> None:
    fs.pipe_file("big.parquet", big)
    fs.pipe_file("whole.parquet", whole)
    for i, part in enumerate(parts):
        fs.pipe_file(f"parts/part.{i:03d}.parquet", part)


def _measure(fs: Any, root: str) -> dict[str, float]:
    import dask.dataframe as dd

    fs.invalidate_cache()
    return {
        "one_column": _best(
            lambda: pd.read_parquet(f"{root}big.parquet", columns=["c0"], filesystem=fs)
        ),
        "whole_file": _best(lambda: pd.read_parquet(f"{root}whole.parquet", filesystem=fs)),
        "dask_64_parts": _best(
            lambda: dd.read_parquet(f"{root}parts", filesystem=fs).compute(scheduler="threads")
        ),
    }


def _fetched_bytes(fs: Any) -> int:
    """Bytes portacloud's bucket returned during one one-column read."""
    bucket = fs.bucket
    original = bucket.get
    total = 0

    def counting(*args: Any, **kwargs: Any) -> bytes:
        nonlocal total
        data: bytes = original(*args, **kwargs)
        total += len(data)
        return data

    bucket.get = counting
    try:
        fs.invalidate_cache()
        pd.read_parquet("big.parquet", columns=["c0"], filesystem=fs)
    finally:
        del bucket.get
    return total


def main() -> int:
    endpoint = os.environ.get("PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT")
    if not endpoint:
        print("set PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT (scripts/services.sh start)")
        return 1
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    megabytes = int(os.environ.get("BENCH_FSSPEC_MB", "256"))
    big = _parquet(_table(megabytes, 1), 16)
    whole = _parquet(_table(megabytes // 4, 2), 4)
    part_table = _table(max(1, megabytes // 256), 3)
    parts = [_parquet(part_table, 1) for _ in range(64)]
    bucket = _s3_setup(endpoint)
    filesystems = _filesystems(endpoint, bucket)
    _upload(filesystems["portacloud"][0], big, whole, parts)
    timings = {name: _measure(fs, root) for name, (fs, root) in filesystems.items()}
    fetched = _fetched_bytes(filesystems["portacloud"][0])
    filesystems["portacloud"][0].rm("", recursive=True)  # leave the server as it was
    _drop_bucket(endpoint, bucket)
    needed = _column_bytes(big, "c0")
    ours = timings["portacloud"]
    ratios = {
        f"{op} vs {other}": ours[op] / timings[other][op]
        for other in timings
        if other != "portacloud"
        for op in ours
    }
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("fsspec", "obstore", "s3fs", "botocore", "pyarrow", "pandas", "dask"):
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    result = {
        "server": "SeaweedFS (weed mini, loopback)",
        "versions": versions,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "big_file_bytes": len(big),
        "whole_file_bytes": len(whole),
        "parts": len(parts),
        "rounds": ROUNDS,
        "seconds_best_of_rounds": timings,
        "portacloud_over_others": ratios,
        "one_column_bytes_fetched": fetched,
        "one_column_bytes_needed": needed,
        "one_column_fetch_ratio": fetched / needed,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fsspec.json").write_text(json.dumps(result, indent=2) + "\n")
    names = list(timings)
    lines = [
        "# fsspec filesystems on SeaweedFS (seconds, best of 3)",
        "",
        "| read | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for op in ours:
        lines.append(f"| {op} | " + " | ".join(f"{timings[n][op]:.3f}" for n in names) + " |")
    lines += ["", "| portacloud / other | ratio |", "|---|---|"]
    lines += [f"| {name} | {ratio:.2f}x |" for name, ratio in ratios.items()]
    lines += [
        "",
        f"One-column read fetched {fetched:,} bytes for {needed:,} bytes of footer and column "
        f"chunks ({fetched / needed:.3f}x).",
        "",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; {os.cpu_count()} CPUs.",
    ]
    (RESULTS / "fsspec.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

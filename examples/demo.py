"""The main job on the embedded default: no cloud account, no server.

A small pipeline writes a dataset to the default profile's local store, reads it back through
streaming and ranged reads, then proves the embedded backends with the conformance suite.
"""

from __future__ import annotations

import csv
import io
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console

import portacloud
from portacloud_conformance.report import Matrix
from portacloud_conformance.runner import run_storage, storage_capabilities

console = Console(highlight=False)


def write_dataset(bucket: portacloud.Bucket, run_id: str) -> int:
    """Write 8 CSV shards and one 32 MiB binary blob; return the bytes written."""
    rng = random.Random(42)
    written = 0
    for shard in range(8):
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["id", "feature", "label"])
        for i in range(2_000):
            writer.writerow([shard * 2_000 + i, f"{rng.random():.6f}", rng.randint(0, 1)])
        info = bucket.put(
            f"{run_id}/shards/part-{shard:04d}.csv",
            buf.getvalue().encode(),
            content_type="text/csv",
            metadata={"shard": str(shard)},
        )
        written += info.size
    with bucket.open(
        f"{run_id}/embeddings.bin", "wb", content_type="application/octet-stream"
    ) as out:
        for _ in range(32):
            out.write(rng.randbytes(1024 * 1024))
    return written + 32 * 1024 * 1024


def read_back(bucket: portacloud.Bucket, run_id: str) -> None:
    shards = [o for o in bucket.list(f"{run_id}/shards/") if isinstance(o, portacloud.ObjectInfo)]
    rows = 0
    for shard in shards:
        with bucket.open(shard.key) as f:  # streamed, CRC32C checked at the end
            rows += sum(1 for _ in io.TextIOWrapper(f, encoding="utf-8")) - 1
    console.print(f"  {len(shards)} shards, {rows} rows read back by streaming")
    blob = f"{run_id}/embeddings.bin"
    head = bucket.head(blob)
    tail = bucket.get(blob, range=(-4096, None))
    middle = bucket.get(blob, range=(head.size // 2, head.size // 2 + 1024))
    console.print(
        f"  {blob}: {head.size} bytes, crc32c {head.crc32c}; ranged reads of "
        f"{len(tail)} (suffix) and {len(middle)} bytes"
    )


def train_on_local(conn: portacloud.Connection, run_id: str) -> None:
    """Run examples/train.py as a job on the profile's queue (local:// by default)."""
    import importlib.util
    import shlex
    import sys

    examples = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location("dataset", examples / "dataset.py")
    assert spec is not None
    assert spec.loader is not None
    dataset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dataset)
    data = conn.storage.child(f"{run_id}/dataset/")
    dataset.write_dataset(data)
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(examples / 'train.py'))}"
    job = conn.jobs.submit(
        portacloud.JobSpec(name="train", command=command, env={"DATASET_URI": data.url})
    )
    status = conn.jobs.wait(job.id, timeout=300)
    console.print(f"  job {job.id} on {conn.jobs.url}: {status.state.value}")
    console.print(f"  {conn.jobs.logs(job.id).strip()}")
    out = portacloud.open_bucket(job.output_uri or "")
    for key in ("model.json", "metrics.json"):
        info = out.head(key)
        console.print(f"  {job.output_uri}{key}: {info.size} bytes, crc32c {info.crc32c}")
    if status.state is not portacloud.JobState.SUCCEEDED:
        raise SystemExit(1)


def main() -> None:
    conn = portacloud.connect()
    bucket = conn.storage
    run_id = f"demo-{time.strftime('%Y%m%dT%H%M%S')}"
    console.print(f"[bold]1. pipeline[/] on profile {conn.profile.name!r}: {bucket.url}")
    started = time.perf_counter()
    written = write_dataset(bucket, run_id)
    console.print(f"  wrote {written / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s")
    read_back(bucket, run_id)

    console.print("[bold]2. a training job[/] (the workload that runs unchanged on Ray and Slurm)")
    train_on_local(conn, run_id)
    bucket.delete_many(
        o.key for o in bucket.list(f"{run_id}/") if isinstance(o, portacloud.ObjectInfo)
    )

    console.print("[bold]3. conformance[/] of the embedded backends")
    with tempfile.TemporaryDirectory(prefix="portacloud-demo-") as tmp:
        targets = ["memory://demo", Path(tmp, "bucket").as_uri()]
        reports = []
        for url in targets:
            report = run_storage(url)
            s = report.summary
            console.print(f"  {url}: {s.passed} passed, {s.skipped} skipped, {s.failed} failed")
            reports.append(report)
        matrix = Matrix.from_reports(reports, {u: storage_capabilities(u) for u in targets})
    console.print(matrix.to_markdown(), markup=False)
    if any(r.summary.failed for r in reports):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

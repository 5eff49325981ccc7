"""The main job on the embedded default: no cloud account, no server.

A small pipeline writes a dataset to the default profile's local store, reads it back through
streaming and ranged reads, runs a training job on ``local://``, serves the model it wrote
with a two-replica service, then proves the embedded backends with the conformance suite.
Everything it keeps is under one directory (``.demo`` in the repo, or
``$PORTACLOUD_DEMO_HOME``), named at the end with how to remove it; the full conformance
matrix is written there too, so the summary fits one screen.
"""

from __future__ import annotations

import csv
import io
import os
import random
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console

import portacloud
from portacloud_conformance.report import Matrix, Report
from portacloud_conformance.runner import run_storage, storage_capabilities

# soft_wrap: long URLs stay one line each, so the line count is what the terminal shows
console = Console(highlight=False, soft_wrap=True)
EXAMPLES = Path(__file__).resolve().parent
DEMO_HOME_ENV = "PORTACLOUD_DEMO_HOME"


def demo_home() -> Path:
    """Where this run keeps everything: ``$PORTACLOUD_DEMO_HOME``, else ``.demo`` in the repo."""
    return Path(os.environ.get(DEMO_HOME_ENV) or EXAMPLES.parent / ".demo").absolute()


def isolate(home: Path) -> None:
    """Run on the embedded default under ``home``, whatever profile this machine has.

    Set in the environment, not passed along, so the job supervisors this process starts use
    the same home.
    """
    os.environ["PORTACLOUD_HOME"] = str(home)
    os.environ["PORTACLOUD_CONFIG"] = str(home / "no-profiles.toml")
    os.environ.pop("PORTACLOUD_PROFILE", None)


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
    """Stream every shard back and take two ranged reads of the blob."""
    shards = [o for o in bucket.list(f"{run_id}/shards/") if isinstance(o, portacloud.ObjectInfo)]
    rows = 0
    for shard in shards:
        with bucket.open(shard.key) as f:  # streamed, CRC32C checked at the end
            rows += sum(1 for _ in io.TextIOWrapper(f, encoding="utf-8")) - 1
    blob = f"{run_id}/embeddings.bin"
    head = bucket.head(blob)
    tail = bucket.get(blob, range=(-4096, None))
    middle = bucket.get(blob, range=(head.size // 2, head.size // 2 + 1024))
    console.print(f"  read back {len(shards)} shards ({rows} rows) by streaming")
    console.print(
        f"  embeddings.bin: {head.size} bytes, crc32c {head.crc32c}; ranged reads of "
        f"{len(tail)} (suffix) and {len(middle)} bytes"
    )


def train_on_local(conn: portacloud.Connection, run_id: str) -> str:
    """Run examples/train.py as a job on the profile's queue (local:// by default)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dataset", EXAMPLES / "dataset.py")
    assert spec is not None
    assert spec.loader is not None
    dataset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dataset)
    data = conn.storage.child(f"{run_id}/dataset/")
    dataset.write_dataset(data)
    # workdir ships examples/ with the job, so the command names train.py as it sits there
    job = conn.jobs.submit(
        portacloud.JobSpec(
            name="train",
            command=f"{shlex.quote(sys.executable)} train.py",
            workdir=str(EXAMPLES),
            env={"DATASET_URI": data.url},
        )
    )
    status = conn.jobs.wait(job.id, timeout=300)
    log = conn.jobs.logs(job.id).strip().splitlines()
    console.print(f"  job {job.id}: {status.state.value}; {log[-1] if log else 'no output'}")
    if status.state is not portacloud.JobState.SUCCEEDED:
        console.print("\n".join(log[-20:]), markup=False)
        raise SystemExit(1)
    out = portacloud.open_bucket(job.output_uri or "")
    artifacts = [(key, out.head(key)) for key in ("model.json", "metrics.json")]
    console.print(
        "  artifacts: "
        + ", ".join(f"{k} ({i.size} bytes, crc32c {i.crc32c})" for k, i in artifacts)
    )
    console.print(f"    in {job.output_uri}")
    return job.output_uri or ""


def serve_model(conn: portacloud.Connection, model_uri: str) -> None:
    """Serve the trained model with 2 replicas on the profile's service backend; ask it."""
    import json
    import urllib.request

    services = conn.services
    spec = portacloud.ServiceSpec(
        name="model",
        command=f"{shlex.quote(sys.executable)} serve_model.py",
        workdir=str(EXAMPLES),
        env={"MODEL_URI": model_uri},
        replicas=2,
        readiness={"path": "/healthz", "period": 0.5},
    )
    services.deploy(spec)
    try:
        status = services.wait("model", timeout=120)
        url = f"{status.endpoint_url}/predict?x=0.1,-0.2,0.3,0.4"
        answers = []
        for _ in range(6):
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                answers.append(json.loads(response.read()))
        replicas = sorted({a["replica"] for a in answers})
        console.print(
            f"  service model: {status.state.value}, {status.ready_replicas} replicas behind "
            f"{status.endpoint_url}"
        )
        console.print(
            f"  GET /predict?x=0.1,-0.2,0.3,0.4 -> {answers[0]['prediction']:.4f} "
            f"(6 requests served by {', '.join(replicas)})"
        )
    finally:
        services.delete("model")


def conformance(home: Path) -> list[Report]:
    """Run the storage suite on the embedded backends; write the full matrix to a file."""
    targets = ["memory://demo", (home / "conformance-bucket").as_uri()]
    reports = []
    for url in targets:
        report = run_storage(url)
        s = report.summary
        console.print(f"  {url}: {s.passed} passed, {s.skipped} skipped, {s.failed} failed")
        reports.append(report)
    matrix = Matrix.from_reports(reports, {u: storage_capabilities(u) for u in targets})
    path = home / "conformance-matrix.md"
    path.write_text(matrix.to_markdown())
    console.print(f"  every test and capability, side by side: {path}")
    return reports


def main() -> None:
    """Run the four steps and end with where the data is and how to remove it."""
    home = demo_home()
    isolate(home)
    conn = portacloud.connect()
    bucket = conn.storage
    run_id = f"demo-{time.strftime('%Y%m%dT%H%M%S')}"
    console.print(f"[bold]1. pipeline[/] on the embedded default: {bucket.url}")
    started = time.perf_counter()
    written = write_dataset(bucket, run_id)
    console.print(f"  wrote {written / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s")
    read_back(bucket, run_id)

    console.print(
        f"[bold]2. a training job[/] on {conn.jobs.url} (the workload that runs unchanged "
        "on Ray and Slurm)"
    )
    model_uri = train_on_local(conn, run_id)

    console.print(
        f"[bold]3. a service[/] on {conn.services.url} serves that model (replicas behind one "
        "endpoint, as on Ray Serve and Slurm)"
    )
    serve_model(conn, model_uri)
    bucket.delete_many(o.key for o in bucket.list(f"{run_id}/"))

    console.print("[bold]4. conformance[/] of the embedded backends")
    reports = conformance(home)
    console.print(f"\ndata: {home} (the demo's PORTACLOUD_HOME: storage, job state, reports)")
    console.print(f"remove it with: rm -rf {shlex.quote(str(home))}")
    if any(r.summary.failed for r in reports):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

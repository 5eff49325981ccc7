"""Peak RSS of `portacloud migrate` against object size and object count.

Memory must depend on the concurrency (and the 8 MiB chunk a stream moves at a time), never on
how large one object is or how many there are. Two source sets, generated once under
``--data`` (default /tmp/portacloud-bench-memory) and reused by later runs:

- ``big``: one object of 2 GiB (``--big-mib``) of random bytes (``os.urandom`` in 8 MiB chunks);
- ``many``: 100,000 objects of 1 KiB each.

Each set is migrated, with its verify phase, at ``-j 4`` and ``-j 16`` into a fresh, empty
destination: another local directory (file->file) and a new bucket on the SeaweedFS test server
(file->SeaweedFS, S3 with ``engine=obstore``; the bucket is emptied and removed afterwards).
``migrate`` has no part-size option (streams move 8 MiB chunks); the S3 destination's own
``part_size`` option is tried at 8 and 32 MiB for the big object. Peak RSS, wall and CPU
seconds come from the ``wait4`` rusage of the ``portacloud migrate`` process. Results go to
benchmarks/results/migrate-memory.{json,md}.

    set -a; source .lab/services.env; set +a   # PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT
    uv run --no-sync python benchmarks/bench_migrate_memory.py [--local-only]
        [--count 100000] [--big-mib 2048] [--part-size 8MiB 32MiB] [--concurrency 4 16]
        [--no-many] [--results migrate-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_migrate import (  # a sibling: benchmarks/ is on sys.path when run
    compile_bytecode,
    portacloud_argv,
)

RESULTS = Path(__file__).parent / "results"
MiB = 1024 * 1024
CHUNK = 8 * MiB


@dataclass
class Sample:
    pair: str
    work: str
    concurrency: int
    part_size: str | None
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    exit_code: int
    objects_verified: int | None
    detail: str = ""


# ---------------------------------------------------------------------- source sets


def make_big(root: Path, mib: int) -> Path:
    """One object of ``mib`` MiB of random bytes, written through portacloud once."""
    import portacloud

    path = root / f"big-{mib}m"
    done = root / f"big-{mib}m.complete"  # beside the set, not an object of it
    if done.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    with portacloud.open_bucket(path.as_uri()) as bucket, bucket.open("big.bin", "wb") as out:
        for _ in range(mib * MiB // CHUNK):
            out.write(os.urandom(CHUNK))
    done.touch()
    return path


def make_many(root: Path, count: int) -> Path:
    """``count`` objects of 1 KiB, 1,000 to a directory, written through portacloud once."""
    import portacloud

    path = root / f"many-{count}"
    done = root / f"many-{count}.complete"
    if done.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    block = os.urandom(1024 + count)
    with portacloud.open_bucket(path.as_uri()) as bucket:
        for i in range(count):
            bucket.put(f"d{i // 1000:04d}/obj-{i:07d}.bin", block[i : i + 1024])
    done.touch()
    return path


# ---------------------------------------------------------------------- S3 buckets


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def new_bucket(endpoint: str) -> str:
    name = f"bench-mem-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def drop_bucket(endpoint: str, name: str) -> None:
    """Empty and remove a benchmark bucket: the shared server keeps nothing of ours."""
    client = s3_client(endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=name, Delete={"Objects": keys[i : i + 1000]})
    client.delete_bucket(Bucket=name)


# ---------------------------------------------------------------------- measuring


def verified_count(stdout: str) -> int | None:
    """The ``verified`` count of the run's result line, if it printed one."""
    for line in reversed(stdout.splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "verified" in event:
            return int(event["verified"])
    return None


def measure(
    pair: str, work: str, concurrency: int, part: str | None, argv: list[str], env: dict[str, str]
) -> Sample:
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    sample = Sample(
        pair=pair,
        work=work,
        concurrency=concurrency,
        part_size=part,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
        exit_code=code,
        objects_verified=verified_count(stdout),
        detail=(stderr or stdout)[-2000:] if code else "",
    )
    print(
        f"   {pair:<16} {work:<18} -j {concurrency:<3} parts {part or '-':<6} "
        f"{seconds:7.1f} s, cpu "
        f"{sample.cpu_seconds:6.1f} s, peak RSS {sample.peak_rss_mib:5.0f} MiB, exit {code}, "
        f"verified {sample.objects_verified}",
        flush=True,
    )
    if code:
        print(sample.detail, file=sys.stderr)
    return sample


def run_all(args: argparse.Namespace, sets: dict[str, Path], tmp: Path) -> list[Sample]:
    env = {**os.environ, "PORTACLOUD_HOME": str(tmp / "home")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measured as installed: from bytecode caches
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    endpoint = "" if args.local_only else os.environ.get("PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT", "")
    samples: list[Sample] = []
    runs = iter(range(1_000_000))
    for work, src in sets.items():
        for concurrency in args.concurrency:
            n = next(runs)
            dst = tmp / f"dst-{n}"
            argv = portacloud_argv(src.as_uri(), dst.as_uri(), tmp / f"j-{n}.sqlite", concurrency)
            samples.append(measure("file->file", work, concurrency, None, argv, env))
            shutil.rmtree(dst, ignore_errors=True)
            # Part sizes matter to objects split into parts only: 1 KiB objects get the default.
            parts = args.part_size if work.startswith("1 x") else [args.part_size[0]]
            for part in parts if endpoint else []:
                n = next(runs)
                bucket = new_bucket(endpoint)
                try:
                    url = f"s3://{bucket}?endpoint_url={endpoint}&engine=obstore&part_size={part}"
                    argv = portacloud_argv(src.as_uri(), url, tmp / f"js-{n}.sqlite", concurrency)
                    samples.append(measure("file->seaweedfs", work, concurrency, part, argv, env))
                finally:
                    drop_bucket(endpoint, bucket)
    return samples


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# portacloud migrate: peak RSS against object size and count",
        "",
        f"{report['date']}, {report['machine']['cpus']} CPUs, Python "
        f"{report['machine']['python']}, S3 engine obstore.",
        "",
        "| pair | work | -j | S3 part size | wall s | CPU s | peak RSS MiB | verified | exit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["samples"]:
        lines.append(
            f"| {s['pair']} | {s['work']} | {s['concurrency']} | {s['part_size'] or '-'} | "
            f"{s['seconds']:.1f} | "
            f"{s['cpu_seconds']:.1f} | {s['peak_rss_mib']:.0f} | {s['objects_verified']} | "
            f"{s['exit_code']} |"
        )
    lines += ["", f"Method: {report['method']}", ""]
    notes = report.get("notes", [])
    lines += ["Notes:", "", *(f"- {note}" for note in notes)] if notes else []
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/portacloud-bench-memory"))
    parser.add_argument("--count", type=int, default=100_000, help="objects of 1 KiB")
    parser.add_argument(
        "--big-mib", type=int, nargs="+", default=[2048], help="sizes of the one big object"
    )
    parser.add_argument(
        "--part-size",
        nargs="+",
        default=["8MiB", "32MiB"],
        help="S3 part sizes (the destination's part_size option) for the big object",
    )
    parser.add_argument("--no-many", action="store_true", help="skip the many small objects")
    parser.add_argument("--results", default="migrate-memory", help="results file name")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--local-only", action="store_true", help="only file -> file")
    parser.add_argument("--note", action="append", default=[], help="a line for the results")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    started = time.monotonic()
    sets = {f"1 x {mib} MiB": make_big(args.data, mib) for mib in args.big_mib}
    if not args.no_many:
        sets[f"{args.count:,} x 1 KiB"] = make_many(args.data, args.count)
    print(f"source sets ready in {time.monotonic() - started:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-migrate-memory-") as tmp:
        samples = run_all(args, sets, Path(tmp))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "method": "one `portacloud migrate -j N --json` (plan, copy, verify, receipt) per row "
        "into a fresh empty destination; peak RSS, wall and CPU seconds from the wait4 rusage "
        "of that process; sources written through portacloud's file:// provider (CRC32C "
        "recorded); SeaweedFS destinations are new buckets, removed afterwards. `migrate` itself "
        "has no part-size option (streams move 8 MiB chunks, objects up to 8 MiB are read "
        "whole); the S3 destination's part_size URL option sets its multipart parts.",
        "samples": [asdict(s) for s in samples],
        "notes": args.note,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.results}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{args.results}.md").write_text(markdown(report))


if __name__ == "__main__":
    main()

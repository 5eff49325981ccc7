"""Run the conformance suites on every target of this machine and write the matrices.

Storage targets: memory://, a fresh file:// directory, and every ``PORTACLOUD_CONFORMANCE_<NAME>``
URL a started server exported. Job targets: ``local://`` with two fake GPUs, and every
``PORTACLOUD_JOBS_TARGET_<NAME>`` URL. scripts/servers/*.sh export them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Literal

from portacloud_conformance.report import Matrix, Report
from portacloud_conformance.runner import run_suite, storage_capabilities

STORAGE_PREFIX = "PORTACLOUD_CONFORMANCE_"
JOBS_PREFIX = "PORTACLOUD_JOBS_TARGET_"
SERVICES_PREFIX = "PORTACLOUD_SERVICES_TARGET_"
COMPUTE_PREFIX = "PORTACLOUD_COMPUTE_TARGET_"


def _from_env(prefix: str) -> dict[str, str]:
    return {
        name.removeprefix(prefix).lower(): url
        for name, url in sorted(os.environ.items())
        if name.startswith(prefix) and url
    }


def storage_targets(scratch: Path) -> dict[str, str]:
    found = {"memory": "memory://conformance", "file": (scratch / "file-bucket").as_uri()}
    return found | _from_env(STORAGE_PREFIX)


def jobs_targets() -> dict[str, str]:
    return {"local": "local://conformance?gpus=2"} | _from_env(JOBS_PREFIX)


def services_targets() -> dict[str, str]:
    return {"local": "local://conformance"} | _from_env(SERVICES_PREFIX)


def compute_targets() -> dict[str, str]:
    return {"local": "local://conformance"} | _from_env(COMPUTE_PREFIX)


#: Storage targets whose AsyncBucket face runs the suite too: the embedded backends and one
#: server per wire protocol on its default engine (the face is the same code over every driver).
ASYNC_FACE_TARGETS = ("memory", "file", "seaweedfs", "azurite", "fake_gcs")


def run_all(
    kind: Literal["storage", "jobs", "compute", "services"],
    named: dict[str, str],
    out: Path,
    *,
    face: Literal["sync", "async"] = "sync",
) -> list[Report]:
    reports = []
    label = kind if face == "sync" else f"{kind}-async"
    extra = ["--portacloud-face", "async"] if face == "async" else []
    for name, url in named.items():
        report = run_suite(kind, url, extra_args=extra)
        (out / f"conformance-{label}-{name}.json").write_text(report.model_dump_json(indent=2))
        s = report.summary
        counts = f"{s.passed} passed, {s.skipped} skipped, {s.failed} failed"
        print(f"{label:>13} {name:>10}: {counts}  ({url})")
        for r in report.results:
            if r.outcome == "failed":
                print(f"{'':>26}FAILED {r.test}: {r.reason}")
        reports.append(report)
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    args = parser.parse_args()
    out: Path = args.report_dir
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portacloud-file-") as scratch:
        named = storage_targets(Path(scratch))
        storage = run_all("storage", named, out)
        faced = {k: v for k, v in named.items() if k in ASYNC_FACE_TARGETS}
        storage_async = run_all("storage", faced, out, face="async")
        caps = {url: storage_capabilities(url) for url in named.values()}
        matrix = Matrix.from_reports(storage, caps)
    (out / "conformance-matrix.md").write_text(matrix.to_markdown())
    (out / "conformance-matrix.json").write_text(matrix.model_dump_json(indent=2))
    jobs = run_all("jobs", jobs_targets(), out)
    jobs_matrix = Matrix.from_reports(jobs, {})
    (out / "conformance-jobs-matrix.md").write_text(jobs_matrix.to_markdown())
    compute = run_all("compute", compute_targets(), out)
    compute_matrix = Matrix.from_reports(compute, {})
    (out / "conformance-compute-matrix.md").write_text(compute_matrix.to_markdown())
    services = run_all("services", services_targets(), out)
    services_matrix = Matrix.from_reports(services, {})
    (out / "conformance-services-matrix.md").write_text(services_matrix.to_markdown())
    print(f"matrices: {out / 'conformance-matrix.md'}, {out / 'conformance-jobs-matrix.md'}")
    every = [*storage, *storage_async, *jobs, *compute, *services]
    return 1 if any(r.summary.failed for r in every) else 0


if __name__ == "__main__":
    sys.exit(main())

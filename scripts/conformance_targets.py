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
from concurrent.futures import ThreadPoolExecutor
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


#: Storage targets whose AsyncBucket face runs the suite too: the embedded backends and every
#: server on its default engine (obstore for S3 and Azure, whose data path is native async
#: there; the thread-pool face is the same code over every other driver).
ASYNC_FACE_TARGETS = ("memory", "file", "seaweedfs", "moto", "azurite", "fake_gcs")


Face = Literal["sync", "async"]
Kind = Literal["storage", "jobs", "compute", "services"]


def _label(kind: Kind, face: Face) -> str:
    return kind if face == "sync" else f"{kind}-async"


def run_one(kind: Kind, name: str, url: str, out: Path, *, face: Face = "sync") -> Report:
    """Run one suite against one target, write its report and print its line."""
    label = _label(kind, face)
    extra = ["--portacloud-face", "async"] if face == "async" else []
    report = run_suite(kind, url, extra_args=extra)
    (out / f"conformance-{label}-{name}.json").write_text(report.model_dump_json(indent=2))
    s = report.summary
    counts = f"{s.passed} passed, {s.skipped} skipped, {s.failed} failed"
    lines = [f"{label:>13} {name:>10}: {counts}  ({url})"]
    lines += [
        f"{'':>26}FAILED {r.test}: {r.reason}" for r in report.results if r.outcome == "failed"
    ]
    print("\n".join(lines), flush=True)
    return report


def run_all(kind: Kind, named: dict[str, str], out: Path) -> list[Report]:
    """Run one kind of suite against each target, one after the other."""
    return [run_one(kind, name, url, out) for name, url in named.items()]


def _write_matrix(
    reports: list[Report], caps: dict[str, dict[str, object]], path: Path, *, with_json: bool
) -> None:
    matrix = Matrix.from_reports(reports, caps)
    path.write_text(matrix.to_markdown())
    if with_json:
        path.with_suffix(".json").write_text(matrix.model_dump_json(indent=2))


def clusters_lane(out: Path) -> list[Report]:
    """The jobs, compute and services suites, one after another (they share Ray and Slurm)."""
    reports = []
    lanes: tuple[tuple[Kind, dict[str, str]], ...] = (
        ("jobs", jobs_targets()),
        ("compute", compute_targets()),
        ("services", services_targets()),
    )
    for kind, targets in lanes:
        done = run_all(kind, targets, out)
        _write_matrix(done, {}, out / f"conformance-{kind}-matrix.md", with_json=False)
        reports += done
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    args = parser.parse_args()
    out: Path = args.report_dir
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portacloud-file-") as scratch:
        named = storage_targets(Path(scratch))
        runs: list[tuple[str, str, Face]] = [(n, u, "sync") for n, u in named.items()]
        runs += [(n, u, "async") for n, u in named.items() if n in ASYNC_FACE_TARGETS]
        # Two lanes: the cluster suites spend most of their time waiting on Ray and Slurm, so
        # the storage suites (each on its own random prefixes) run beside them, and a second
        # storage lane takes over the first lane once the cluster suites end.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="conformance") as pool:
            clusters = pool.submit(clusters_lane, out)
            storage_runs = [
                (face, pool.submit(run_one, "storage", name, url, out, face=face))
                for name, url, face in runs
            ]
            storage = [f.result() for face, f in storage_runs if face == "sync"]
            storage_async = [f.result() for face, f in storage_runs if face == "async"]
            others = clusters.result()
        caps = {url: storage_capabilities(url) for url in named.values()}
        _write_matrix(storage, caps, out / "conformance-matrix.md", with_json=True)
    print(f"matrices: {out / 'conformance-matrix.md'}, {out / 'conformance-jobs-matrix.md'}")
    every = [*storage, *storage_async, *others]
    return 1 if any(r.summary.failed for r in every) else 0


if __name__ == "__main__":
    sys.exit(main())

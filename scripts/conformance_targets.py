"""Run the storage conformance suite on every target of this machine and write the matrix.

Targets: memory://, a fresh file:// directory, and every ``PORTACLOUD_CONFORMANCE_<NAME>``
storage URL that a started server exported (scripts/servers/*.sh write them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from portacloud_conformance.report import Matrix
from portacloud_conformance.runner import run_storage, storage_capabilities

PREFIX = "PORTACLOUD_CONFORMANCE_"


def targets(scratch: Path) -> dict[str, str]:
    found = {"memory": "memory://conformance", "file": (scratch / "file-bucket").as_uri()}
    for name, url in sorted(os.environ.items()):
        if name.startswith(PREFIX) and url:
            found[name.removeprefix(PREFIX).lower()] = url
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    args = parser.parse_args()
    args.report_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portacloud-file-") as scratch:
        named = targets(Path(scratch))
        reports = []
        for name, url in named.items():
            report = run_storage(url)
            (args.report_dir / f"conformance-{name}.json").write_text(
                report.model_dump_json(indent=2)
            )
            s = report.summary
            print(f"{name:>10}: {s.passed} passed, {s.skipped} skipped, {s.failed} failed  ({url})")
            for r in report.results:
                if r.outcome == "failed":
                    print(f"{'':>12}FAILED {r.test}: {r.reason}")
            reports.append(report)
        matrix = Matrix.from_reports(
            reports, {url: storage_capabilities(url) for url in named.values()}
        )
    (args.report_dir / "conformance-matrix.md").write_text(matrix.to_markdown())
    (args.report_dir / "conformance-matrix.json").write_text(matrix.model_dump_json(indent=2))
    print(f"matrix: {args.report_dir / 'conformance-matrix.md'}")
    return 1 if any(r.summary.failed for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())

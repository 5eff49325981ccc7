"""Run the suite against a target in a child pytest process and return its report."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import portacloud
from portacloud_conformance.report import Report, SuiteKind

__all__ = [
    "Kind",
    "capabilities",
    "run_compute",
    "run_jobs",
    "run_services",
    "run_storage",
    "run_suite",
    "storage_capabilities",
]

Kind = SuiteKind

_OPTIONS = {
    "storage": "--portacloud-storage",
    "jobs": "--portacloud-jobs",
    "compute": "--portacloud-compute",
    "services": "--portacloud-services",
}


def run_storage(url: str, *, extra_args: Sequence[str] = (), quiet: bool = True) -> Report:
    """Run the storage suite against ``url`` (see :func:`run_suite`)."""
    return run_suite("storage", url, extra_args=extra_args, quiet=quiet)


def run_jobs(url: str, *, extra_args: Sequence[str] = (), quiet: bool = True) -> Report:
    """Run the jobs suite against the queue at ``url`` (see :func:`run_suite`)."""
    return run_suite("jobs", url, extra_args=extra_args, quiet=quiet)


def run_compute(url: str, *, extra_args: Sequence[str] = (), quiet: bool = True) -> Report:
    """Run the compute suite against ``url`` (see :func:`run_suite`)."""
    return run_suite("compute", url, extra_args=extra_args, quiet=quiet)


def run_services(url: str, *, extra_args: Sequence[str] = (), quiet: bool = True) -> Report:
    """Run the services suite against the backend at ``url`` (see :func:`run_suite`)."""
    return run_suite("services", url, extra_args=extra_args, quiet=quiet)


def run_suite(
    kind: Kind,
    url: str,
    *,
    extra_args: Sequence[str] = (),
    quiet: bool = True,
) -> Report:
    """Run one suite against ``url``.

    The suite runs in a child process, from an empty working directory, so that neither the
    caller's pytest configuration nor a crash in a backend can disturb the caller.

    Args:
        url: The storage URL under test.
        extra_args: More pytest arguments (``-k``, ``-x``...).
        quiet: Hide pytest's own output.

    Raises:
        portacloud.InternalError: if pytest could not run the suite at all.
    """
    with tempfile.TemporaryDirectory(prefix="portacloud-conformance-") as tmp:
        report_path = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            f"portacloud_conformance.{kind}",
            _OPTIONS[kind],
            url,
            "--portacloud-report",
            str(report_path),
            "-p",
            "no:cacheprovider",
            "-q" if quiet else "-v",
            *extra_args,
        ]
        done = subprocess.run(cmd, cwd=tmp, capture_output=quiet, text=True, check=False)
        if not report_path.exists():
            tail = "\n".join((done.stderr or done.stdout or "").splitlines()[-15:]) if quiet else ""
            raise portacloud.InternalError(
                f"the conformance suite did not run (pytest exit code {done.returncode})\n{tail}"
            )
        return Report.model_validate_json(report_path.read_text())


def storage_capabilities(url: str) -> dict[str, object]:
    """The capabilities the backend at ``url`` declares."""
    with portacloud.open_bucket(url) as bucket:
        return bucket.capabilities.model_dump(exclude={"notes"}) | {
            "notes": "; ".join(bucket.capabilities.notes) or "-"
        }


def capabilities(kind: Kind, url: str) -> dict[str, object]:
    """The capabilities the ``kind`` backend at ``url`` declares, notes joined in one cell."""
    if kind == "storage":
        return storage_capabilities(url)
    if kind == "jobs":
        with portacloud.open_jobs(url) as queue:
            values, notes = queue.capabilities.model_dump(), queue.capabilities.notes
    elif kind == "services":
        with portacloud.open_services(url) as services:
            values, notes = services.capabilities.model_dump(), services.capabilities.notes
    else:
        with portacloud.open_compute(url) as compute:
            values, notes = compute.capabilities.model_dump(), compute.capabilities.notes
    return values | {"notes": "; ".join(notes) or "-"}

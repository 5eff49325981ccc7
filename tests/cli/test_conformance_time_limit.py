"""A backend that stops answering fails one conformance test with a reason; the run ends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

# Loaded by the inner pytest run: the memory backend's listing never returns.
HANGING_CONFTEST = """
import time

from portacloud.providers.memory import MemoryDriver


def _hang(self, options):
    time.sleep(3600)


MemoryDriver.list_page = _hang
"""


def test_a_hanging_listing_fails_its_test_with_the_time_limit(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(HANGING_CONFTEST)
    report = tmp_path / "report.json"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            "--rootdir", str(tmp_path), "-c", "/dev/null", "--confcutdir", str(tmp_path),
            "--pyargs", "portacloud_conformance.storage", "-k", "test_empty_listing",
            "--portacloud-storage", "memory://time-limit",
            "--portacloud-test-timeout", "3", "--portacloud-report", str(report),
        ],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert time.monotonic() - started < 120, "the run waited for the hanging call"
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads(report.read_text())["results"]
    failed = [r for r in results if r["outcome"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["test"].endswith("test_list.py::test_empty_listing")
    assert "per-test time limit of 3 s" in failed[0]["reason"]

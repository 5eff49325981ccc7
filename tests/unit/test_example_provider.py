"""The example provider of docs/writing-a-provider.md: registered through an entry point of its
own distribution, it passes the storage conformance suite with under 200 lines of code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dict_provider"
SOURCE = EXAMPLE / "src" / "portacloud_dict" / "__init__.py"


def _installed(tmp_path: Path) -> dict[str, str]:
    """Environment in which the example is an installed distribution with its entry point."""
    dist = tmp_path / "site" / "portacloud_dict-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: portacloud-dict\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[portacloud.providers]\ndict = portacloud_dict:provider\n"
    )
    path = os.pathsep.join([str(tmp_path / "site"), str(EXAMPLE / "src")])
    return {**os.environ, "PYTHONPATH": path}


def test_the_example_is_a_small_provider() -> None:
    lines = SOURCE.read_text().splitlines()
    assert len(lines) < 200
    assert "portacloud.providerkit" in SOURCE.read_text()


def test_the_example_provider_passes_the_storage_suite(tmp_path: Path) -> None:
    env = _installed(tmp_path)
    schemes = subprocess.run(
        [sys.executable, "-c", "import portacloud; print(portacloud.available_schemes())"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "'dict'" in schemes
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--pyargs", "portacloud_conformance.storage",
            "--portacloud-storage", "dict://conformance/run",
            "--portacloud-report", str(report),
        ],
        env=env, capture_output=True, text=True, check=False, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["summary"]["failed"] == 0
    assert data["summary"]["passed"] > 200
    skipped = [r for r in data["results"] if r["outcome"] == "skipped"]
    assert all(r["reason"].startswith("capability ") for r in skipped), skipped


def test_a_bad_option_is_one_line_naming_it(tmp_path: Path) -> None:
    code = (
        "import portacloud\n"
        "try:\n"
        "    portacloud.open_bucket('dict://b?max_object_size=lots')\n"
        "except portacloud.InvalidArgumentError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_installed(tmp_path),
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == (
        "[INVALID_ARGUMENT] dict.open_bucket 'dict://b?max_object_size=lots': dict:// option "
        "max_object_size must be a byte count such as 8388608 or '8MiB', not 'lots'"
    )

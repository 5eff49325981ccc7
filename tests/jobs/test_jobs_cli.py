"""``portacloud jobs`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXE = [sys.executable, "-m", "portacloud.cli", "jobs"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, check=check)


def test_submit_yaml_logs_ls_cancel(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "name: train\n"
        'command: echo "gpus=[$CUDA_VISIBLE_DEVICES] lr=$LR"\n'
        "resources: {gpus: 1}\n"
        "env: {LR: '0.001'}\n"
    )
    queue = "local://cli?gpus=2"
    done = run("submit", str(spec), "--on", queue, "--wait", "60")
    job_id = done.stdout.splitlines()[0]
    status = json.loads("\n".join(done.stdout.splitlines()[1:]))
    assert status["state"] == "SUCCEEDED"
    assert run("logs", job_id, "--on", queue).stdout == "gpus=[0] lr=0.001\n"
    listed = [json.loads(line) for line in run("ls", "--on", queue, "--json").stdout.splitlines()]
    assert job_id in [j["id"] for j in listed]
    assert run("cancel", job_id, "--on", queue).stdout.strip() == "SUCCEEDED"


def test_bad_spec_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: 'no spaces allowed'\ncommand: true\n")
    done = run("submit", str(spec), "--on", "local://cli", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: [INVALID_ARGUMENT] invalid job spec: name:")
    assert "Traceback" not in done.stderr


def test_schema_is_json_schema() -> None:
    schema = json.loads(run("schema").stdout)
    assert schema["title"] == "JobSpec"
    assert {"name", "command"} <= set(schema["required"])

"""``portacloud jobs`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import portacloud

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
    status = json.loads(done.stdout)
    job_id = status["id"]
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


def home() -> Path:
    return Path(os.environ["PORTACLOUD_HOME"])


def _spec(tmp_path: Path, body: str, *, name: str = "job") -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(f"name: {name}\n{body}")
    return spec


def _submit_and_wait(spec: Path, queue: str) -> str:
    """Submit without --wait (whose output is under test elsewhere) and wait through the API."""
    job_id = run("submit", str(spec), "--on", queue).stdout.strip()
    portacloud.open_jobs(queue).wait(job_id, timeout=60)
    return job_id


def _ids(queue: str) -> list[str]:
    return [json.loads(line)["id"] for line in run("ls", "--on", queue, "--json").stdout.split()]


def test_submit_wait_prints_only_the_status_json_on_stdout(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "command: 'true'\n")
    done = run("submit", str(spec), "--on", "local://wait", "--wait", "60")
    status = json.loads(done.stdout)  # the whole of stdout: J=$(portacloud jobs submit --wait)
    assert status["state"] == "SUCCEEDED"
    assert status["id"] in done.stderr  # progress goes to stderr


@pytest.mark.parametrize("wait", ["-5", "0", "nan"])
def test_submit_refuses_a_nonsense_wait_before_submitting(tmp_path: Path, wait: str) -> None:
    spec = _spec(tmp_path, "command: 'true'\n")
    done = run("submit", str(spec), "--on", "local://neg", f"--wait={wait}", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: [INVALID_ARGUMENT]")
    assert "timeout" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert _ids("local://neg") == []


@pytest.mark.parametrize(
    ("gpus", "hint"),
    [("A100x8", "did you mean A100:8"), ("'banana:2'", "known GPUs: K80"), ("'H1000:1'", "H100")],
)
def test_submit_refuses_unknown_gpu_strings(tmp_path: Path, gpus: str, hint: str) -> None:
    spec = _spec(tmp_path, f"command: 'true'\nresources: {{gpus: {gpus}}}\n")
    done = run("submit", str(spec), "--on", "local://gpus?gpus=8", check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: [INVALID_ARGUMENT] unknown GPU")
    assert hint in done.stderr
    assert "Traceback" not in done.stderr
    assert _ids("local://gpus?gpus=8") == []


def test_submit_stores_the_canonical_gpu_name(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "command: 'true'\nresources: {gpus: 'nvidia-tesla-t4:1'}\n")
    queue = "local://canon?gpus=1&gpu_type=Tesla T4"
    status = json.loads(run("submit", str(spec), "--on", queue, "--wait", "60").stdout)
    assert status["state"] == "SUCCEEDED"


def test_logs_follow_exits_non_zero_for_a_failed_job(tmp_path: Path) -> None:
    queue = "local://follow"
    failing = _spec(tmp_path, "command: 'echo bye; exit 3'\n", name="failing")
    job_id = run("submit", str(failing), "--on", queue).stdout.strip()
    done = run("logs", "-f", job_id, "--on", queue, check=False)
    assert done.stdout == "bye\n"
    assert done.returncode == 1
    assert "FAILED" in done.stderr
    fine = _spec(tmp_path, "command: 'echo hi'\n", name="fine")
    job_id = run("submit", str(fine), "--on", queue).stdout.strip()
    assert run("logs", "-f", job_id, "--on", queue).stdout == "hi\n"


def test_rm_and_prune_remove_ended_jobs_with_their_logs_and_work_dirs(tmp_path: Path) -> None:
    queue = "local://tidy"
    quick = _spec(tmp_path, "command: 'echo done'\n", name="quick")
    first = _submit_and_wait(quick, queue)
    second = _submit_and_wait(quick, queue)
    slow = _spec(tmp_path, "command: 'sleep 60'\n", name="slow")
    running = run("submit", str(slow), "--on", queue).stdout.strip()
    root = home() / "jobs" / "tidy"
    assert (root / "logs" / first).is_dir()
    try:
        assert run("rm", first, "--on", queue).stdout.split() == [first]
        assert not (root / "logs" / first).exists()
        assert not (root / "work" / first).exists()
        refused = run("rm", running, "--on", queue, check=False)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: [FAILED_PRECONDITION]")
        missing = run("rm", "no-such-job", "--on", queue, check=False)
        assert missing.stderr.startswith("error: [NOT_FOUND]")
        assert run("prune", "--on", queue).stdout.split() == [second]
        assert _ids(queue) == [running]
    finally:
        run("cancel", running, "--on", queue)
    assert run("prune", "--on", queue).stdout.split() == [running]
    assert _ids(queue) == []


def test_ls_state_is_case_insensitive(tmp_path: Path) -> None:
    queue = "local://states"
    spec = _spec(tmp_path, "command: 'true'\n")
    job_id = _submit_and_wait(spec, queue)
    for state in ("succeeded", "Succeeded", "SUCCEEDED"):
        found = run("ls", "--on", queue, "--state", state, "--json").stdout.split()
        assert [json.loads(line)["id"] for line in found] == [job_id]
    assert run("ls", "--on", queue, "--state", "running", "--json").stdout == ""


def test_ls_table_prints_whole_ids_when_piped(tmp_path: Path) -> None:
    queue = "local://wide"
    name = "a-rather-long-job-name-that-makes-the-id-wider-than-a-terminal"
    spec = _spec(tmp_path, "command: 'true'\n", name=name)
    job_id = _submit_and_wait(spec, queue)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    table = subprocess.run(
        [*EXE, "ls", "--on", queue], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert job_id in table
    assert "\u2026" not in table  # no ellipsis anywhere


def test_logs_task_prints_one_task_unprefixed(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 'command: echo "i=$PORTACLOUD_TASK_INDEX"\narray: 3\n', name="arr")
    queue = "local://cli"
    job_id = json.loads(run("submit", str(spec), "--on", queue, "--wait", "60").stdout)["id"]
    assert run("logs", job_id, "--task", "2", "--on", queue).stdout == "i=2\n"
    assert run("logs", job_id, "--task", "1", "-f", "--on", queue).stdout == "i=1\n"
    assert "[task 2] i=2\n" in run("logs", job_id, "--on", queue).stdout
    done = run("logs", job_id, "--task", "3", "--on", queue, check=False)
    assert done.returncode == 1
    assert "has 3 task(s), indexes 0 to 2; there is no task 3" in done.stderr
    assert "Traceback" not in done.stderr


def test_submit_workdir_limit_refuses_a_big_workdir(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\0" * 2 * 2**20)
    spec = _spec(tmp_path, "command: 'true'\nworkdir: .\n", name="big")
    done = run("submit", str(spec), "--on", "local://cli", "--workdir-limit", "1", check=False)
    assert done.returncode == 1
    assert "ships 2.0 MiB, over the limit of 1 MiB; biggest files: weights.bin" in done.stderr
    assert run("submit", str(spec), "--on", "local://cli", "--workdir-limit", "3", "--wait", "60")

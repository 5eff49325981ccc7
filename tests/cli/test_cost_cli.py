"""``portacloud cost`` and budgets from the shell, on local:// with profile rates."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cli_support import one_error_line, portacloud

PROFILE = """
[profiles.lab]
jobs = "local://"
[profiles.lab.rates]
cpu_hour_usd = 3600.0
[profiles.lab.budget]
per_run_usd = 2.0
monthly_usd = 50.0
"""


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A profile 'lab' whose rate is a dollar a second, and a directory for spec files."""
    config = tmp_path / "portacloud.toml"
    config.write_text(PROFILE)
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    monkeypatch.setenv("PORTACLOUD_PROFILE", "lab")
    return tmp_path


def _spec(where: Path, name: str, command: str, timeout: float | None = None) -> str:
    path = where / f"{name}.yaml"
    extra = f"timeout: {timeout}\n" if timeout is not None else ""
    path.write_text(f"name: {name}\ncommand: {command}\n{extra}")
    return str(path)


def test_over_budget_submit_is_one_line_and_nothing_runs(lab: Path) -> None:
    line = one_error_line(
        portacloud("jobs", "submit", _spec(lab, "dear", "touch x", timeout=60), check=False)
    )
    assert "[RESOURCE_EXHAUSTED]" in line
    assert "$60.00" in line
    assert "per-run budget of $2.00" in line
    assert portacloud("jobs", "ls", "--json").stdout.strip() == b""


def test_run_past_budget_is_cancelled_said_and_reported(lab: Path) -> None:
    done = portacloud(
        "jobs", "submit", "--wait", "60", _spec(lab, "long", "sleep 300"), check=False
    )
    assert done.returncode == 1
    status = json.loads(done.stdout)
    assert status["state"] == "CANCELLED"
    assert status["reason"] == "BUDGET_EXCEEDED"
    assert "over the budget of profile 'lab'" in done.stderr.decode()
    (line,) = [json.loads(x) for x in portacloud("cost", "report", "--json").stdout.splitlines()]
    assert line["key"] == "lab"
    assert line["runs"] == 1
    assert line["cost_usd"] == pytest.approx(status["cost"])
    assert line["cost_usd"] > 2.0
    table = portacloud("cost", "report", "--by", "kind", "--since", "2000-01-01").stdout.decode()
    assert "job" in table


def test_watch_stops_a_job_nobody_reads(lab: Path) -> None:
    job_id = portacloud("jobs", "submit", _spec(lab, "unwatched", "sleep 300")).stdout.strip()
    time.sleep(3.5)
    watched = portacloud("cost", "watch", "--once")
    assert f"stopped job {job_id.decode()}" in watched.stderr.decode()
    status = json.loads(portacloud("jobs", "status", job_id.decode()).stdout)
    assert status["reason"] == "BUDGET_EXCEEDED"
    assert portacloud("cost", "watch", "--once").stdout.strip() == b""  # nothing runs now


def test_estimate(lab: Path) -> None:
    spec = _spec(lab, "est", "echo hi", timeout=1.5)
    assert portacloud("cost", "estimate", spec, "--on", "local://").stdout.strip() == b"1.50"
    record = json.loads(portacloud("cost", "estimate", spec, "--on", "local://", "--json").stdout)
    assert record["total_usd"] == pytest.approx(1.5)

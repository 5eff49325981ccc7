"""Prices and budgets of jobs on a real ``local://`` queue, with profile rates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import portacloud
from portacloud import JobReason, JobSpec, JobState, Resources
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import Budget, CostPolicy, Rates
from portacloud.costs.report import cost_report
from portacloud.errors import ResourceExhaustedError

# 3600 USD per CPU-hour is one dollar a second: budgets are crossed in seconds.
DOLLAR_A_SECOND = Rates(cpu_hour_usd=3600.0, gpu_hour_usd=7200.0)


@pytest.fixture
def queue() -> Iterator[portacloud.JobQueue]:
    with portacloud.open_jobs("local://") as opened:
        yield opened


def _policy(**budget: float) -> CostPolicy:
    return CostPolicy(
        profile="lab", rates=DOLLAR_A_SECOND, budget=Budget(**budget) if budget else None
    )


def test_a_job_is_priced_recorded_and_reported(queue: portacloud.JobQueue) -> None:
    queue.use_costs(_policy())
    spec = JobSpec(name="priced", command="sleep 1", resources=Resources(cpus=2), array=2)
    job = queue.submit(spec)
    final = queue.wait(job.id, timeout=60)
    assert final.state is JobState.SUCCEEDED
    assert final.price_per_hour == pytest.approx(2 * 2 * 3600.0)  # 2 CPUs x 2 tasks
    assert final.cost is not None
    assert final.cost > 0
    entry = Ledger().latest(kind="job", id=job.id)
    assert entry is not None
    assert entry.end_reason == "ended"
    assert entry.profile == "lab"
    assert entry.started_at == final.started_at
    (line,) = cost_report(Ledger(), by="kind")
    assert (line.key, line.runs, line.running) == ("job", 1, 0)
    assert line.cost_usd == pytest.approx(final.cost)


def test_over_budget_is_refused_before_anything_runs(queue: portacloud.JobQueue) -> None:
    queue.use_costs(_policy(per_run_usd=10.0))
    spec = JobSpec(name="too-long", command="touch should-not-exist", timeout=60)
    with pytest.raises(ResourceExhaustedError) as refused:
        queue.submit(spec)
    text = str(refused.value)
    assert "$60.00" in text
    assert "$10.00" in text
    assert "'lab'" in text
    assert queue.list() == []
    assert Ledger().entries() == []


def test_monthly_budget_counts_what_was_spent(queue: portacloud.JobQueue) -> None:
    queue.use_costs(_policy(monthly_usd=3.0))
    first = queue.submit(JobSpec(name="first", command="sleep 2", timeout=2.5))
    assert queue.wait(first.id, timeout=60).state is JobState.SUCCEEDED
    with pytest.raises(ResourceExhaustedError, match=r"has spent \$\d+\.\d\d of its monthly"):
        queue.submit(JobSpec(name="second", command="true", timeout=2))
    assert [j.name for j in queue.list()] == ["first"]


def test_a_run_past_per_run_budget_is_cancelled(queue: portacloud.JobQueue) -> None:
    queue.use_costs(_policy(per_run_usd=2.0))
    job = queue.submit(JobSpec(name="runaway", command="sleep 300"))
    final = queue.wait(job.id, timeout=60)
    assert final.state is JobState.CANCELLED
    assert final.reason is JobReason.BUDGET_EXCEEDED
    assert "budget" in (final.message or "")
    assert final.cost is not None
    assert 2.0 < final.cost < 10.0
    entry = Ledger().latest(kind="job", id=job.id)
    assert entry is not None
    assert entry.end_reason == "BUDGET_EXCEEDED"
    assert queue.status(job.id).reason is JobReason.BUDGET_EXCEEDED  # and it stays so


def test_without_a_policy_nothing_is_recorded(queue: portacloud.JobQueue) -> None:
    job = queue.submit(JobSpec(name="plain", command="true"))
    final = queue.wait(job.id, timeout=60)
    assert final.price_per_hour is None
    assert final.cost is None
    assert Ledger().entries() == []


def test_estimate(queue: portacloud.JobQueue) -> None:
    spec = {"name": "e", "command": "true", "timeout": 1800, "retries": 1, "array": 3}
    assert queue.estimate(spec).total_usd == 0.0  # no policy: no rates
    queue.use_costs(_policy())
    projection = queue.estimate({**spec, "resources": {"gpus": 1}})
    # (1 CPU + 1 GPU) x 3 tasks = 3 x 10,800 $/h, half an hour, two attempts.
    assert projection.price_per_hour == pytest.approx(32400.0)
    assert projection.total_usd == pytest.approx(32400.0)

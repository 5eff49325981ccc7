"""The cost ledger on a real SQLite file: concurrent writers, reports, budget arithmetic."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portacloud.costs.budget import check_budget, month_start, over_budget, spent_this_month
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import Budget, CostPolicy
from portacloud.costs.pricing import Projection, project_unbounded
from portacloud.costs.report import cost_report, parse_since
from portacloud.errors import InvalidArgumentError, ResourceExhaustedError

WRITERS = 4
RUNS_PER_WRITER = 40
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _run(
    ledger: Ledger,
    id_: str,
    *,
    profile: str,
    price: float,
    start: datetime,
    end: datetime | None = None,
    kind: str = "job",
    tags: dict[str, str] | None = None,
) -> None:
    """Record one run (still going when ``end`` is None)."""
    ledger.start(
        profile=profile,
        kind=kind,
        id=id_,
        name=id_,
        target="x://",
        price_per_hour=price,
        tags=tags,
        at=start,
    )
    if end is not None:
        assert ledger.end(kind=kind, id=id_, reason="ended", at=end)


def _writer(path: str, writer: int) -> None:
    ledger = Ledger(Path(path))
    for run in range(RUNS_PER_WRITER):
        _run(
            ledger,
            f"w{writer}-r{run}",
            profile=f"p{writer % 2}",
            price=1.0,
            start=T0,
            end=T0 + timedelta(hours=1),
        )


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_writer, args=(str(path), n)) for n in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    entries = Ledger(path).entries()
    assert len(entries) == WRITERS * RUNS_PER_WRITER
    assert all(e.ended_at == T0 + timedelta(hours=1) for e in entries)
    lines = {line.key: line for line in cost_report(Ledger(path), by="profile")}
    assert lines["p0"].cost_usd == pytest.approx(2 * RUNS_PER_WRITER)
    assert lines["p1"].runs == 2 * RUNS_PER_WRITER


def _ledger_with_runs(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "l.sqlite3")
    rows = [
        ("prod", "job", "j1", {"team": "ml"}, 2.0, T0, T0 + timedelta(hours=3)),
        ("prod", "instance", "i1", {"team": "web"}, 0.5, T0, T0 + timedelta(hours=4)),
        ("dev", "job", "j2", {}, 1.0, T0 + timedelta(hours=1), None),
    ]
    for profile, kind, id_, tags, price, start, end in rows:
        _run(ledger, id_, profile=profile, price=price, start=start, end=end, kind=kind, tags=tags)
    return ledger


def test_report_groups_and_clips(tmp_path: Path) -> None:
    ledger = _ledger_with_runs(tmp_path)
    now = T0 + timedelta(hours=5)
    by_profile = cost_report(ledger, by="profile", now=now)
    assert [(line.key, line.cost_usd, line.running) for line in by_profile] == [
        ("prod", 8.0, 0),
        ("dev", 4.0, 1),
    ]
    by_tag = {line.key: line.cost_usd for line in cost_report(ledger, by="tag:team", now=now)}
    assert by_tag == {"ml": 6.0, "web": 2.0, "-": 4.0}
    by_kind = {line.key: line.hours for line in cost_report(ledger, by="kind", now=now)}
    assert by_kind == {"job": 7.0, "instance": 4.0}
    since = cost_report(ledger, profile="prod", since=T0 + timedelta(hours=2), now=now)
    assert since[0].cost_usd == pytest.approx(2.0 + 1.0)  # one hour of j1, two of i1
    with pytest.raises(InvalidArgumentError, match="profile, kind or tag:KEY"):
        cost_report(ledger, by="colour")


def test_parse_since() -> None:
    assert parse_since("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T05:00:00+01:00").hour == 5
    with pytest.raises(InvalidArgumentError, match="--since"):
        parse_since("yesterday")


def test_ending_twice_and_unknown_are_harmless(tmp_path: Path) -> None:
    ledger = _ledger_with_runs(tmp_path)
    assert ledger.end(kind="job", id="j1", reason="again") is None
    assert ledger.end(kind="job", id="nosuch", reason="x") is None
    assert ledger.latest(kind="job", id="j1").end_reason == "ended"  # type: ignore[union-attr]


def test_budget_refusal_names_projection_budget_and_spent(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    start = max(month_start(), datetime.now(UTC) - timedelta(hours=10))
    _run(ledger, "old", profile="prod", price=4.0, start=start, end=start + timedelta(hours=2))
    policy = CostPolicy(profile="prod", budget=Budget(monthly_usd=10.0, per_run_usd=5.0))
    assert spent_this_month(ledger, "prod") == pytest.approx(8.0)
    with pytest.raises(ResourceExhaustedError) as per_run:
        check_budget(policy, ledger, Projection(price_per_hour=2.0, hours=3), what="job 'a'")
    assert "$6.00" in str(per_run.value)
    assert "per-run budget of $5.00" in str(per_run.value)
    assert per_run.value.retryable is False
    with pytest.raises(ResourceExhaustedError) as monthly:
        check_budget(policy, ledger, Projection(price_per_hour=2.0, hours=2), what="job 'b'")
    text = str(monthly.value)
    assert "$4.00" in text
    assert "spent $8.00" in text
    assert "$10.00" in text
    assert "$2.00 left" in text
    check_budget(policy, ledger, Projection(price_per_hour=1.0, hours=1), what="job 'c'")
    # Unbounded: the per-run budget caps it (it is enforced while it runs), 1 h at most.
    check_budget(policy, ledger, project_unbounded(1.5), what="instance 'd'")
    with pytest.raises(ResourceExhaustedError):
        check_budget(policy, ledger, project_unbounded(100.0), what="instance 'e'")


def test_over_budget_while_running(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    _run(ledger, "r", profile="p", price=3600.0, start=datetime.now(UTC) - timedelta(seconds=3))
    entry = ledger.latest(kind="job", id="r")
    assert entry is not None
    assert over_budget(CostPolicy(profile="p"), ledger, entry) is None
    tight = CostPolicy(profile="p", budget=Budget(per_run_usd=2.0))
    assert "per-run budget of $2.00" in (over_budget(tight, ledger, entry) or "")
    roomy = CostPolicy(profile="p", budget=Budget(per_run_usd=100.0, monthly_usd=1.0))
    assert "monthly budget of $1.00" in (over_budget(roomy, ledger, entry) or "")

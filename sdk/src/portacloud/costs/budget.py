"""Budgets: refuse a run whose projection does not fit, and tell when a running one is over.

See docs/decisions/0010-budgets.md for who enforces what, and when.
"""

from __future__ import annotations

from datetime import UTC, datetime

from portacloud.costs.ledger import Ledger
from portacloud.costs.models import CostPolicy, LedgerEntry
from portacloud.costs.pricing import Projection, usd
from portacloud.errors import ResourceExhaustedError

__all__ = ["check_budget", "month_start", "over_budget", "spent_this_month"]


def month_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of the first day of the month of ``now`` (default: the present)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent_this_month(ledger: Ledger, profile: str, *, now: datetime | None = None) -> float:
    """USD the profile's runs cost since the month began, running ones up to ``now``."""
    start = month_start(now)
    return sum(
        entry.cost(now=now, since=start) for entry in ledger.entries(profile=profile, since=start)
    )


def check_budget(policy: CostPolicy, ledger: Ledger, projection: Projection, *, what: str) -> None:
    """Refuse, before anything starts, a run that would not fit the profile's budget.

    Args:
        policy: The profile, its budget and rates.
        ledger: Where what was spent is recorded.
        projection: What the run may cost.
        what: The run, for the message (``job 'train'``).

    Raises:
        ResourceExhaustedError: a bounded projection is over ``per_run_usd``, or the
            projection (for an unbounded run: capped at ``per_run_usd``, which stops it) is
            over what is left of ``monthly_usd``; the message names the projection, the
            budget and what was spent. Not retryable: the same call fails until the budget
            or the spec changes.
    """
    budget = policy.budget
    if budget is None:
        return
    cost = projection.total_usd
    if not projection.bounded and budget.per_run_usd is not None:
        # Nothing bounds the run but the per-run budget itself, enforced while it runs.
        cost = min(cost, budget.per_run_usd)
    elif budget.per_run_usd is not None and cost > budget.per_run_usd:
        raise ResourceExhaustedError(
            f"{what} is projected at {usd(cost)} ({projection.describe()}), over the "
            f"per-run budget of {usd(budget.per_run_usd)} of profile {policy.profile!r}",
            retryable=False,
        )
    if budget.monthly_usd is not None and cost > 0:
        spent = spent_this_month(ledger, policy.profile)
        if spent + cost > budget.monthly_usd:
            left = max(0.0, budget.monthly_usd - spent)
            raise ResourceExhaustedError(
                f"{what} is projected at {usd(cost)} ({projection.describe()}), but profile "
                f"{policy.profile!r} has spent {usd(spent)} of its monthly budget of "
                f"{usd(budget.monthly_usd)} ({usd(left)} left)",
                retryable=False,
            )


def over_budget(policy: CostPolicy, ledger: Ledger, entry: LedgerEntry) -> str | None:
    """Why the running ``entry`` must be stopped now, or ``None`` while it is within budget."""
    budget = policy.budget
    if budget is None or entry.ended_at is not None or entry.price_per_hour <= 0:
        return None
    cost = entry.cost()
    if budget.per_run_usd is not None and cost > budget.per_run_usd:
        return (
            f"cost {usd(cost)} is over the per-run budget of {usd(budget.per_run_usd)} "
            f"of profile {policy.profile!r}"
        )
    if budget.monthly_usd is not None:
        spent = spent_this_month(ledger, policy.profile)
        if spent > budget.monthly_usd:
            return (
                f"profile {policy.profile!r} has spent {usd(spent)}, over its monthly "
                f"budget of {usd(budget.monthly_usd)}"
            )
    return None

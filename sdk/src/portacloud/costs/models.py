"""Cost settings of a profile (rates, budget) and the records of the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BUDGET_EXCEEDED",
    "Budget",
    "CostLine",
    "CostPolicy",
    "LedgerEntry",
    "Rates",
    "hours_between",
]

#: The end reason the ledger and job statuses carry when a budget stopped a run.
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


class Rates(BaseModel):
    """Hourly rates for queues that have no list price (``local://``, Ray, Slurm).

    A TOML table ``[profiles.NAME.rates]``.

    Attributes:
        gpu_hour_usd: USD per GPU and hour.
        cpu_hour_usd: USD per CPU and hour (a job that asks for no CPUs counts one).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu_hour_usd: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    cpu_hour_usd: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class Budget(BaseModel):
    """What a profile may spend. A TOML table ``[profiles.NAME.budget]``.

    Attributes:
        monthly_usd: The most the profile's runs may cost in one calendar month (UTC).
        per_run_usd: The most one job or one instance run (start to stop) may cost.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    monthly_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    per_run_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class CostPolicy(BaseModel):
    """Who pays for what a handle runs, at which rates, under which budget.

    Attributes:
        profile: The profile name the ledger records runs under.
        rates: Rates for queues without a list price.
        budget: The budget, or ``None`` for none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str
    rates: Rates = Field(default_factory=Rates)
    budget: Budget | None = None


def hours_between(start: datetime, end: datetime) -> float:
    """Hours from ``start`` to ``end`` (0 when ``end`` is earlier)."""
    return max(0.0, (end - start).total_seconds() / 3600)


class LedgerEntry(BaseModel):
    """One priced interval of the ledger: a job from start to end, an instance from start to
    stop.

    Attributes:
        seq: The ledger's own number for the row.
        profile: The profile that ran it.
        kind: ``job`` or ``instance``.
        id: The backend's id.
        name: Its name.
        target: The URL of the queue or compute target it ran on.
        tags: Its tags.
        price_per_hour: USD per hour while it ran.
        started_at: When the interval began (UTC).
        ended_at: When it ended, or ``None`` while it runs.
        end_reason: Why it ended (``ended``, ``stopped``, ``terminated``, ``BUDGET_EXCEEDED``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    profile: str
    kind: str
    id: str
    name: str | None = None
    target: str
    tags: Mapping[str, str] = Field(default_factory=dict)
    price_per_hour: float
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None

    def cost(self, *, now: datetime | None = None, since: datetime | None = None) -> float:
        """USD spent in the interval up to ``now`` (default: the present), counting only the
        part after ``since``."""
        end = self.ended_at or now or datetime.now(UTC)
        start = max(self.started_at, since) if since is not None else self.started_at
        return self.price_per_hour * hours_between(start, end)


class CostLine(BaseModel):
    """One line of ``portacloud cost report``.

    Attributes:
        key: The group (a profile, a kind, or a tag value; ``-`` for none).
        runs: Distinct jobs and instances in the group.
        hours: Hours they ran.
        cost_usd: What they cost.
        running: How many still run (their cost grows).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    runs: int
    hours: float
    cost_usd: float
    running: int

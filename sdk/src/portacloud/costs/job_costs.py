"""Prices, ledger records and budget checks of the jobs a :class:`JobQueue` runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC

from portacloud.costs.budget import check_budget, over_budget
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import BUDGET_EXCEEDED, CostPolicy, LedgerEntry
from portacloud.costs.pricing import Projection, job_price, project_job
from portacloud.jobs.models import JobReason, JobSpec, JobState, JobStatus

__all__ = ["JobCosts"]

_log = logging.getLogger("portacloud.costs")
KIND = "job"


class JobCosts:
    """The cost side of one job queue: its policy, its ledger and its URL.

    Args:
        policy: Who pays, at which rates, under which budget.
        target: The queue's URL, recorded so that ``portacloud cost watch`` can reopen it.
        ledger: The ledger; default the one under ``PORTACLOUD_HOME``.
    """

    def __init__(self, policy: CostPolicy, *, target: str, ledger: Ledger | None = None) -> None:
        self.policy = policy
        self.target = target
        self.ledger = ledger or Ledger()

    def estimate(self, spec: JobSpec) -> Projection:
        """What ``spec`` may cost here: its price x timeout x attempts."""
        price = job_price(spec.resources, tasks=spec.tasks, rates=self.policy.rates)
        return project_job(spec, price_per_hour=price)

    def admit(self, spec: JobSpec) -> float:
        """The job's hourly price, once its projection fits the budget (else RESOURCE_EXHAUSTED,
        before anything is submitted)."""
        projection = self.estimate(spec)
        check_budget(self.policy, self.ledger, projection, what=f"job {spec.name!r}")
        return projection.price_per_hour

    def submitted(self, job_id: str, spec: JobSpec, price: float) -> None:
        """Record the submitted job; it costs from when the backend says it started."""
        self.ledger.start(
            profile=self.policy.profile,
            kind=KIND,
            id=job_id,
            name=spec.name,
            target=self.target,
            price_per_hour=price,
        )

    def priced(
        self,
        status: JobStatus,
        *,
        cancel: Callable[[str], None],
        reread: Callable[[str], JobStatus],
    ) -> JobStatus:
        """``status`` with its price and cost; the ledger follows it, and a running job over
        the budget is cancelled here (reason BUDGET_EXCEEDED)."""
        entry = self.ledger.latest(kind=KIND, id=status.id)
        if entry is None:
            return status
        if entry.ended_at is None:
            entry, status = self._follow(entry, status, cancel=cancel, reread=reread)
        update: dict[str, object] = {
            "price_per_hour": entry.price_per_hour,
            "cost": entry.cost() if status.started_at is not None else 0.0,
        }
        if entry.end_reason == BUDGET_EXCEEDED and status.state in (
            JobState.CANCELLING,
            JobState.CANCELLED,
        ):
            update["reason"] = JobReason.BUDGET_EXCEEDED
            update["message"] = (
                f"cancelled by portacloud: its cost went over the budget of profile "
                f"{entry.profile!r}"
            )
        return status.model_copy(update=update)

    def _follow(
        self,
        entry: LedgerEntry,
        status: JobStatus,
        *,
        cancel: Callable[[str], None],
        reread: Callable[[str], JobStatus],
    ) -> tuple[LedgerEntry, JobStatus]:
        """Bring the open ledger entry up to date with ``status``; enforce the budget."""
        began = status.started_at or (status.ended_at if status.state.terminal else None)
        if began is not None and began.tzinfo is None:
            began = began.replace(tzinfo=UTC)  # backends report UTC; some leave it implicit
        if began is not None and began != entry.started_at:
            self.ledger.restart(kind=KIND, id=status.id, at=began)
            entry = entry.model_copy(update={"started_at": began})
        if status.state.terminal:
            closed = self.ledger.end(kind=KIND, id=status.id, reason="ended", at=status.ended_at)
            return closed or entry, status
        why = over_budget(self.policy, self.ledger, entry) if status.started_at else None
        if why is None:
            return entry, status
        _log.warning("cancelling job %s (%s): %s", status.id, status.name, why)
        cancel(status.id)
        closed = self.ledger.end(kind=KIND, id=status.id, reason=BUDGET_EXCEEDED)
        return closed or entry, reread(status.id)

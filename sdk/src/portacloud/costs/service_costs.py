"""Prices, ledger records and budget checks of the services a :class:`Services` handle runs.

A service has no end of its own, so its projection is unbounded, as an instance's is (see
:func:`~portacloud.costs.budget.check_budget`): a deploy is refused when even the first hour
of every replica, or a run up to ``per_run_usd``, would not fit what is left of the month. The
ledger keeps one interval per price: deploy opens one, a scale or an update that changes the
price closes it and opens the next, delete closes it. A service that runs past its budget is
deleted (its replicas stop, its ports and GPUs are freed), recorded as BUDGET_EXCEEDED.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC

from portacloud.costs.budget import check_budget, over_budget
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import BUDGET_EXCEEDED, CostPolicy
from portacloud.costs.pricing import Projection, job_price, project_unbounded
from portacloud.services.models import ServiceSpec, ServiceState, ServiceStatus

__all__ = ["ServiceCosts"]

_log = logging.getLogger("portacloud.costs")
KIND = "service"


class ServiceCosts:
    """The cost side of one service backend: its policy, its ledger and its URL.

    Args:
        policy: Who pays, at which rates, under which budget.
        target: The backend's URL, recorded so that ``portacloud cost watch`` can reopen it.
        ledger: The ledger; default the one under ``PORTACLOUD_HOME``.
    """

    def __init__(self, policy: CostPolicy, *, target: str, ledger: Ledger | None = None) -> None:
        self.policy = policy
        self.target = target
        self.ledger = ledger or Ledger()

    def price(self, spec: ServiceSpec, replicas: int) -> float:
        """USD per hour of ``replicas`` replicas of ``spec`` at the profile's rates."""
        return job_price(spec.resources, tasks=replicas, rates=self.policy.rates)

    def estimate(self, spec: ServiceSpec) -> Projection:
        """What ``spec`` costs per hour at its largest size; unbounded, it runs until deleted."""
        return project_unbounded(self.price(spec, spec.most_replicas))

    def admit(self, spec: ServiceSpec, *, replicas: int | None = None) -> float:
        """The hourly price once it fits the budget (else RESOURCE_EXHAUSTED, before anything
        starts)."""
        projection = self.estimate(spec)
        if replicas is not None:
            projection = project_unbounded(self.price(spec, replicas))
        check_budget(self.policy, self.ledger, projection, what=f"service {spec.name!r}")
        return projection.price_per_hour

    def _id(self, name: str) -> str:
        return f"{name}@{self.target}"

    def running(self, name: str, price: float) -> None:
        """Record that the service costs ``price`` per hour from now (closing an older price)."""
        self.ledger.end(kind=KIND, id=self._id(name), reason="repriced")
        self.ledger.start(
            profile=self.policy.profile,
            kind=KIND,
            id=self._id(name),
            name=name,
            target=self.target,
            price_per_hour=price,
        )

    def deleted(self, name: str, *, reason: str = "deleted") -> None:
        """Close the service's open interval."""
        self.ledger.end(kind=KIND, id=self._id(name), reason=reason)

    def priced(self, status: ServiceStatus, *, delete: Callable[[str], None]) -> ServiceStatus:
        """``status`` with its price and cost since it was deployed; a service over the
        budget is deleted here and reported STOPPED with the reason."""
        history = self.ledger.history(kind=KIND, id=self._id(status.name))
        if not history:
            return status
        since = status.created_at
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # backends report UTC; some leave it implicit
        current = [e for e in history if since is None or e.started_at >= since] or history[-1:]
        entry = current[-1]
        update: dict[str, object] = {
            "price_per_hour": entry.price_per_hour if entry.ended_at is None else 0.0,
            "cost": sum(e.cost() for e in current),
        }
        why = over_budget(self.policy, self.ledger, entry)
        if why is not None:
            _log.warning("deleting service %s: %s", status.name, why)
            delete(status.name)
            self.deleted(status.name, reason=BUDGET_EXCEEDED)
            update |= {
                "state": ServiceState.STOPPED,
                "price_per_hour": 0.0,
                "reason": f"BUDGET_EXCEEDED: deleted by portacloud: {why}",
            }
        return status.model_copy(update=update)

"""Prices, ledger records and budget checks of the instances a :class:`Compute` manages."""

from __future__ import annotations

import logging
from collections.abc import Callable

from portacloud.compute.models import Instance, InstanceState
from portacloud.costs.budget import check_budget, over_budget
from portacloud.costs.ledger import Ledger
from portacloud.costs.models import BUDGET_EXCEEDED, CostPolicy
from portacloud.costs.pricing import instance_price, project_unbounded
from portacloud.errors import FailedPreconditionError

__all__ = ["InstanceCosts"]

# States past running; one that still bills (an Azure VM stopped, not deallocated) still costs.
_PAST_RUNNING = (
    InstanceState.STOPPING,
    InstanceState.STOPPED,
    InstanceState.TERMINATING,
    InstanceState.TERMINATED,
    InstanceState.ERROR,
)

_log = logging.getLogger("portacloud.costs")
KIND = "instance"


class InstanceCosts:
    """The cost side of one compute handle.

    Args:
        policy: Who pays, under which budget.
        target: The compute URL, recorded so that ``portacloud cost watch`` can reopen it.
        catalog: The catalog provider whose prices apply (``aws``...), or ``None``.
        ledger: The ledger; default the one under ``PORTACLOUD_HOME``.
    """

    def __init__(
        self,
        policy: CostPolicy,
        *,
        target: str,
        catalog: str | None,
        ledger: Ledger | None = None,
    ) -> None:
        self.policy = policy
        self.target = target
        self.catalog = catalog
        self.ledger = ledger or Ledger()

    def price(self, instance_type: str | None, region: str | None, *, spot: bool) -> float | None:
        """The catalog price of a type here, or ``None``."""
        return instance_price(self.catalog, instance_type, region, spot=spot)

    def admit(self, name: str, instance_type: str, region: str, *, spot: bool) -> float | None:
        """The hourly price of the instance to create, once it fits the budget.

        Raises:
            ResourceExhaustedError: one hour of it (nothing bounds an instance) is over the
                budget; nothing has been created.
            FailedPreconditionError: the profile has a budget and the catalog no price for the
                type, so the budget cannot be checked.
        """
        price = self.price(instance_type, region, spot=spot)
        if self.policy.budget is None:
            return price
        if price is None:
            raise FailedPreconditionError(
                f"the catalog has no {'spot ' if spot else ''}price for {instance_type} in "
                f"{region}, so the budget of profile {self.policy.profile!r} cannot be checked; "
                "choose a catalog type (portacloud offers) or a profile without a budget"
            )
        check_budget(self.policy, self.ledger, project_unbounded(price), what=f"instance {name!r}")
        return price

    def started(self, instance: Instance, price: float | None) -> None:
        """Record that ``instance`` started (was created, or started again)."""
        if price is None:
            return
        self.ledger.end(kind=KIND, id=instance.id, reason="restarted")  # an interval left open
        self.ledger.start(
            profile=self.policy.profile,
            kind=KIND,
            id=instance.id,
            name=instance.name,
            target=self.target,
            price_per_hour=price,
            tags=instance.tags,
        )

    def ended(self, instance_id: str, reason: str) -> None:
        """Record that an instance stopped or was terminated."""
        self.ledger.end(kind=KIND, id=instance_id, reason=reason)

    def priced(self, instance: Instance, *, halt: Callable[[str], Instance]) -> Instance:
        """``instance`` with its price and cost; the ledger follows its state, and a managed
        instance over the budget is halted here (stopped, or terminated where it cannot
        stop)."""
        entry = self.ledger.latest(kind=KIND, id=instance.id)
        if entry is not None and entry.ended_at is None:
            if instance.state in _PAST_RUNNING and not instance.billing:
                # Stopped or terminated behind this handle's back: it costs no more from now.
                self.ledger.end(kind=KIND, id=instance.id, reason=instance.state.value.lower())
            elif instance.managed and (why := over_budget(self.policy, self.ledger, entry)):
                _log.warning("stopping instance %s (%s): %s", instance.id, instance.name, why)
                instance = halt(instance.id)
                self.ledger.end(kind=KIND, id=instance.id, reason=BUDGET_EXCEEDED)
        history = self.ledger.history(kind=KIND, id=instance.id)
        return instance.model_copy(
            update={
                "price_per_hour": self.price(
                    instance.instance_type, instance.region, spot=instance.spot
                ),
                "cost": sum(e.cost() for e in history) if history else None,
            }
        )

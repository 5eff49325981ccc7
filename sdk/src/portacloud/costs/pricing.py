"""The one place instance and job prices come from.

* Instances: the catalog's list price of the instance type in the region (on-demand, or spot
  for spot capacity), as ``offers`` shows it.
* Jobs: queues without a list price (``local://``, Ray, Slurm) cost what the profile's
  :class:`~portacloud.costs.models.Rates` say per GPU-hour and CPU-hour.
* Projections: price x how long a run may last (the job's timeout, or one hour when nothing
  bounds it) x its attempts.

Storage requests and egress (``migrate --dry-run``) are priced by
:mod:`portacloud.costs.storage`.
"""

from __future__ import annotations

import math
from datetime import date

from pydantic import BaseModel, ConfigDict

from portacloud.compute.models import Offer
from portacloud.costs.models import Rates
from portacloud.jobs.models import JobSpec
from portacloud.resources import Resources

__all__ = [
    "UNBOUNDED_HOURS",
    "Projection",
    "catalog_date",
    "instance_price",
    "job_price",
    "offer_price",
    "project_job",
    "project_unbounded",
    "usd",
]

#: How long a run nothing bounds is projected to last when a budget is checked; the budget
#: watch stops it if it runs on past the budget (docs/decisions/0010-budgets.md).
UNBOUNDED_HOURS = 1.0


class Projection(BaseModel):
    """What a run is expected to cost at most.

    Attributes:
        price_per_hour: USD per hour while it runs.
        hours: How long it may run (per attempt).
        attempts: How many times it may run (1 + retries).
        bounded: Whether something (a timeout) bounds it; otherwise ``hours`` is
            :data:`UNBOUNDED_HOURS`.
        total_usd: ``price_per_hour x hours x attempts``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    price_per_hour: float
    hours: float
    attempts: int = 1
    bounded: bool = True

    @property
    def total_usd(self) -> float:
        """The projected cost in USD."""
        return self.price_per_hour * self.hours * self.attempts

    def describe(self) -> str:
        """``$4.00/h x 2 h x 3 attempts``, in words a refusal can quote."""
        attempts = f" x {self.attempts} attempts" if self.attempts > 1 else ""
        how_long = f"{self.hours:.3g} h"
        if not self.bounded:
            how_long += " assumed, unbounded"
        return f"${self.price_per_hour:.4g}/h x {how_long}{attempts}"


def usd(amount: float) -> str:
    """``$12.34``; small amounts keep their significant digits (``$0.00042``)."""
    if amount == 0 or abs(amount) >= 0.01:
        return f"${amount:.2f}"
    return f"${amount:.2g}"


def offer_price(offer: Offer, *, spot: bool = False) -> float:
    """The hourly price of an offer: spot with ``spot=True`` (inf when the row has none)."""
    price = offer.spot_price_per_hour if spot else offer.price_per_hour
    return math.inf if price is None else price


def instance_price(
    catalog: str | None, instance_type: str | None, region: str | None, *, spot: bool = False
) -> float | None:
    """The catalog's hourly price of ``instance_type`` in ``region`` (a zone reads as its
    region), or ``None`` when the catalog has no such row (or no spot price for spot)."""
    from portacloud.compute.catalog import LOCAL_PROVIDER, catalog_region, catalog_rows

    if catalog is None or instance_type is None or region is None:
        return None
    if catalog == LOCAL_PROVIDER:
        return 0.0  # this machine: already paid for
    wanted = catalog_region(catalog, region)
    for row in catalog_rows():
        if (row.provider, row.instance_type, row.region) == (catalog, instance_type, wanted):
            return row.spot_price_per_hour if spot else row.price_per_hour
    return None


def catalog_date(provider: str | None = None) -> date | None:
    """The newest ``as_of`` among the catalog's rows (of ``provider``), for ``offers``."""
    from portacloud.compute.catalog import catalog_rows

    dates = [r.as_of for r in catalog_rows() if provider is None or r.provider == provider]
    return max(dates, default=None)


def job_price(resources: Resources, *, tasks: int, rates: Rates) -> float:
    """USD per hour of a job on a queue without a list price: every task's GPUs and CPUs at
    the profile's rates (a task that asks for no CPUs counts one)."""
    cpus = resources.cpus if resources.cpus is not None else 1.0
    per_task = resources.gpu_count * rates.gpu_hour_usd + cpus * rates.cpu_hour_usd
    return per_task * tasks


def project_job(spec: JobSpec, *, price_per_hour: float) -> Projection:
    """At most what ``spec`` costs: price x timeout x attempts (retries + 1)."""
    if spec.timeout is None:
        return project_unbounded(price_per_hour, attempts=spec.retries + 1)
    return Projection(
        price_per_hour=price_per_hour, hours=spec.timeout / 3600, attempts=spec.retries + 1
    )


def project_unbounded(price_per_hour: float, *, attempts: int = 1) -> Projection:
    """A run nothing bounds (an instance, a job without timeout): :data:`UNBOUNDED_HOURS`."""
    return Projection(
        price_per_hour=price_per_hour, hours=UNBOUNDED_HOURS, attempts=attempts, bounded=False
    )

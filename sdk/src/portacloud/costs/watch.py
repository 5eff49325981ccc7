"""``portacloud cost watch``: read every running priced thing, so budgets are enforced.

A budget is enforced whenever a status is read through a handle with a cost policy (see
docs/decisions/0010-budgets.md); the watch makes those reads happen on a timer for everything
the ledger says still runs, whichever process started it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from portacloud.costs.ledger import Ledger
from portacloud.costs.models import BUDGET_EXCEEDED, LedgerEntry
from portacloud.costs.policy import profile_policy
from portacloud.errors import NotFoundError, PortaCloudError

__all__ = ["WatchResult", "watch_once"]

_log = logging.getLogger("portacloud.costs")


@dataclass(frozen=True, slots=True)
class WatchResult:
    """What one look at one running thing found."""

    entry: LedgerEntry
    stopped: bool
    cost: float | None
    error: PortaCloudError | None = None


def _look(entry: LedgerEntry, ledger: Ledger) -> WatchResult:
    from portacloud.openers import open_compute, open_jobs, open_services

    policy = profile_policy(entry.profile, missing_ok=True)
    if entry.kind == "job":
        with open_jobs(entry.target) as queue:
            status = queue.use_costs(policy, ledger=ledger).status(entry.id)
        stopped = status.reason is not None and status.reason.value == BUDGET_EXCEEDED
        return WatchResult(entry=entry, stopped=stopped, cost=status.cost)
    if entry.kind == "service":
        with open_services(entry.target) as services:
            service = services.use_costs(policy, ledger=ledger).get(entry.name or "")
        stopped = (service.reason or "").startswith(BUDGET_EXCEEDED)
        return WatchResult(entry=entry, stopped=stopped, cost=service.cost)
    with open_compute(entry.target) as compute:
        instance = compute.use_costs(policy, ledger=ledger).get(entry.id)
    latest = ledger.latest(kind=entry.kind, id=entry.id)
    stopped = latest is not None and latest.end_reason == BUDGET_EXCEEDED
    return WatchResult(entry=entry, stopped=stopped, cost=instance.cost)


def watch_once(
    ledger: Ledger | None = None, *, profile: str | None = None
) -> Iterator[WatchResult]:
    """Read the status of everything the ledger says still runs (of ``profile``); each read
    prices it and stops it if it is over its profile's budget."""
    ledger = ledger or Ledger()
    for entry in ledger.entries(profile=profile, open_only=True):
        try:
            yield _look(entry, ledger)
        except NotFoundError:
            # The backend forgot it (a deleted job, a long-terminated instance): it runs no more.
            ledger.end(kind=entry.kind, id=entry.id, reason="gone")
        except PortaCloudError as exc:
            _log.debug("cost watch: %s %s", entry.kind, entry.id, exc_info=True)
            yield WatchResult(entry=entry, stopped=False, cost=None, error=exc)

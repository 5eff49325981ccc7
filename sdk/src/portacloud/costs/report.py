"""``portacloud cost report``: the ledger summed by profile, kind or tag."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from portacloud.costs.ledger import Ledger
from portacloud.costs.models import CostLine, LedgerEntry, hours_between
from portacloud.errors import InvalidArgumentError

__all__ = ["cost_report", "parse_since"]

_GROUPS = ("profile", "kind")


def parse_since(text: str) -> datetime:
    """``2026-12-01`` (midnight UTC) or an ISO date-time (UTC when it names no zone).

    Raises:
        InvalidArgumentError: neither.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"--since {text!r}: give a date (2026-12-01) or an ISO date-time"
        ) from None
    if len(text.strip()) == 10:  # a bare date: the day from its start
        moment = datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _group_of(entry: LedgerEntry, by: str) -> str:
    if by == "profile":
        return entry.profile
    if by == "kind":
        return entry.kind
    return entry.tags.get(by.removeprefix("tag:"), "-")


def cost_report(
    ledger: Ledger,
    *,
    profile: str | None = None,
    since: datetime | None = None,
    by: str = "profile",
    now: datetime | None = None,
) -> list[CostLine]:
    """What ran, summed per group, most expensive first.

    Args:
        ledger: The ledger to read.
        profile: Only this profile's runs.
        since: Only what ran after this moment (runs that began before count from it).
        by: ``profile``, ``kind`` or ``tag:KEY`` (runs without the tag group under ``-``).
        now: The present, for runs still going (default: now).

    Raises:
        InvalidArgumentError: an unknown ``by``.
    """
    if by not in _GROUPS and not (by.startswith("tag:") and len(by) > 4):
        raise InvalidArgumentError(f"--by {by!r}: one of profile, kind or tag:KEY")
    now = now or datetime.now(UTC)
    runs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    running: dict[str, set[tuple[str, str]]] = defaultdict(set)
    hours: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    for entry in ledger.entries(profile=profile, since=since):
        key = _group_of(entry, by)
        thing = (entry.kind, entry.id)
        runs[key].add(thing)
        if entry.ended_at is None:
            running[key].add(thing)
        start = max(entry.started_at, since) if since is not None else entry.started_at
        hours[key] += hours_between(start, entry.ended_at or now)
        cost[key] += entry.cost(now=now, since=since)
    lines = [
        CostLine(
            key=key,
            runs=len(runs[key]),
            hours=hours[key],
            cost_usd=cost[key],
            running=len(running[key]),
        )
        for key in runs
    ]
    return sorted(lines, key=lambda line: (-line.cost_usd, line.key))

"""What the controller does next: which replicas to start and which to take out of traffic.

Pure functions over the controller's records, so the rules can be read (and tested) apart
from processes and clocks:

- a replica of the desired version that is not being renewed is *kept*; every other live
  replica is *outgoing* (an older version, or one replaced before its walltime ends);
- kept replicas above the desired count are drained, the not-ready and newest first;
- outgoing replicas that are not ready are drained at once (they carry no traffic);
- a ready outgoing replica is drained only while the ready count stays at or above
  ``replicas - max_unavailable`` (``replicas`` for one being renewed);
- new replicas start while kept ones are missing, and, while any replica is outgoing, only
  while the live ones (draining included: they still hold ports and GPUs) number at most
  ``replicas + max_surge``.
"""

from __future__ import annotations

from dataclasses import dataclass

from portacloud.services.controller_state import Phase, Replica
from portacloud.services.models import UpdatePolicy

__all__ = ["Moves", "plan_moves"]


@dataclass(frozen=True)
class Moves:
    """What to do now.

    Attributes:
        start: How many new replicas of the desired version to create.
        drain: Replicas to take out of traffic and stop after their drain grace.
    """

    start: int
    drain: tuple[Replica, ...]


def _drain_order(replica: Replica) -> tuple[int, int]:
    # Not-ready before ready, then the newest first: the least useful go first.
    ready = 1 if replica.phase is Phase.READY else 0
    number = int(replica.id.rsplit("-", 1)[-1]) if replica.id[-1:].isdigit() else 0
    return ready, -number


def plan_moves(replicas: list[Replica], *, version: int, count: int, update: UpdatePolicy) -> Moves:
    """The moves that bring ``replicas`` towards ``count`` ready replicas of ``version``."""
    live = [r for r in replicas if r.phase is not Phase.DRAINING]
    draining = len(replicas) - len(live)
    kept = [r for r in live if r.version == version and not r.renewing]
    outgoing = [r for r in live if r not in kept]
    drain: list[Replica] = []
    if len(kept) > count:
        surplus = sorted(kept, key=_drain_order)[: len(kept) - count]
        drain.extend(surplus)
        kept = [r for r in kept if r not in surplus]
    drain.extend(r for r in outgoing if r.phase is not Phase.READY)
    ready = sum(1 for r in live if r.phase is Phase.READY and r not in drain)
    floor = count - update.max_unavailable
    for replica in sorted((r for r in outgoing if r.phase is Phase.READY), key=_drain_order):
        # A renewal is the backend's business, not an update: it never costs capacity.
        if ready - 1 < (count if replica.renewing else floor):
            continue
        drain.append(replica)
        ready -= 1
    missing = max(0, count - len(kept))
    if outgoing:
        surge = max(update.max_surge, 1) if all(r.renewing for r in outgoing) else update.max_surge
        room = count + surge - (len(live) + draining)
        # Replicas drained now free their slot only once stopped: they still count.
        missing = min(missing, max(0, room))
    return Moves(start=missing, drain=tuple(drain))

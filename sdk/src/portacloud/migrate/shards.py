"""Splitting a migration into key ranges that balance object count and bytes.

A sharded migration (:mod:`portacloud.migrate.cluster`) cuts the source's key space into ``N``
ranges ``(after, upto]``, one per task of a job array. The cuts are made on one listing of the
source so that every range holds about the same share of *work*, where an object weighs its
share of the objects plus its share of the bytes: ranges of many small objects and ranges of a
few large ones take about as long. The ranges cover every key exactly once (the first starts at
the beginning, the last has no end), so keys that appear after the plan still belong to
exactly one shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from portacloud.costs.storage import estimate_cost, write_requests
from portacloud.errors import InvalidArgumentError
from portacloud.migrate.models import CostEstimate, KeyRange

__all__ = [
    "MAX_SHARDS",
    "ShardPlan",
    "ShardSpec",
    "cut_ranges",
    "migration_id",
    "shard_specs",
]

#: Shards one migration may have (a job array's size).
MAX_SHARDS = 1000

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ShardSpec(BaseModel):
    """One shard of a sharded migration, as planned.

    Attributes:
        index: The shard's number (0-based), also the name of its state folder.
        key_range: The keys it owns.
        objects: Source objects in its range when it was planned.
        bytes: Their bytes.
        cost: Its estimated cost, counting every object as copied (an upper bound: objects
            already at the destination are skipped).
    """

    model_config = _FROZEN

    index: int = Field(ge=0)
    key_range: KeyRange
    objects: int = Field(ge=0)
    bytes: int = Field(ge=0)
    cost: CostEstimate


class ShardPlan(BaseModel):
    """The plan of a sharded migration, kept in its state folder so that every rerun and every
    task sees the same ranges.

    Attributes:
        migration_id: 16 hex digits of SHA-256 over the source and destination URLs.
        src: The source URL.
        dst: The destination URL.
        shards: The shards, in key order.
        concurrency: Objects each task copies at a time.
    """

    model_config = _FROZEN

    migration_id: str
    src: str
    dst: str
    shards: tuple[ShardSpec, ...]
    concurrency: int = Field(ge=1)

    @property
    def objects(self) -> int:
        """Source objects over all shards, when planned."""
        return sum(s.objects for s in self.shards)

    @property
    def bytes(self) -> int:
        """Their bytes."""
        return sum(s.bytes for s in self.shards)


def migration_id(src: str, dst: str) -> str:
    """The id of the (source, destination) pair: the name of its state folder.

    The same digest as the single-process journal's name, so one pair has one identity.
    """
    return hashlib.sha256(f"{src}\n{dst}".encode()).hexdigest()[:16]


def cut_ranges(entries: Iterable[tuple[str, int]], shards: int) -> list[KeyRange]:
    """Cut sorted ``(key, size)`` pairs into at most ``shards`` ranges of about equal work.

    An object weighs ``1 / objects + size / bytes``: half of the total weight is the object
    count, half the bytes. Fewer ranges come back when there are fewer objects than shards
    (a range never starts empty because of the cutting).

    Args:
        entries: Every source key with its size, in key order (UTF-8 byte order).
        shards: How many ranges are wanted.

    Returns:
        The ranges in key order; together they cover every possible key exactly once.
    """
    if not 1 <= shards <= MAX_SHARDS:
        raise InvalidArgumentError(f"shards must be 1..{MAX_SHARDS}, not {shards}")
    items = list(entries)
    total_bytes = sum(size for _, size in items)
    count = len(items)
    wanted = min(shards, max(1, count))
    if wanted == 1:
        return [KeyRange()]
    cuts: list[str] = []
    done = 0.0
    for position, (key, size) in enumerate(items):
        done += 1 / count + (size / total_bytes if total_bytes else 1 / count)
        target = 2 * (len(cuts) + 1) / wanted
        # Leave at least one key for every shard still to come.
        room = count - position - 1 >= wanted - len(cuts) - 1
        if done >= target - 1e-12 and room and len(cuts) < wanted - 1:
            cuts.append(key)
    bounds: list[str | None] = [None, *cuts, None]
    return [KeyRange(after=bounds[i], upto=bounds[i + 1]) for i in range(len(bounds) - 1)]


def shard_specs(
    entries: Iterable[tuple[str, int]],
    ranges: list[KeyRange],
    *,
    src_provider: str,
    dst_provider: str,
) -> tuple[ShardSpec, ...]:
    """Count and price the objects of each range.

    Args:
        entries: Every source key with its size, in key order.
        ranges: The ranges of :func:`cut_ranges`.
        src_provider: The source bucket's provider name (for prices).
        dst_provider: The destination's.
    """
    sums = [[0, 0, 0] for _ in ranges]  # objects, bytes, write requests
    current = 0
    for key, size in entries:
        while key not in ranges[current]:
            current += 1
        sums[current][0] += 1
        sums[current][1] += size
        sums[current][2] += write_requests(size)
    specs: list[ShardSpec] = []
    for index, (key_range, (objects, size, writes)) in enumerate(zip(ranges, sums, strict=True)):
        cost = estimate_cost(
            src_provider=src_provider,
            dst_provider=dst_provider,
            egress_bytes=size,
            src_objects=objects,
            dst_objects=objects,
            src_reads=objects,
            dst_writes=writes,
            dst_deletes=0,
            server_side=False,
        )
        specs.append(
            ShardSpec(index=index, key_range=key_range, objects=objects, bytes=size, cost=cost)
        )
    return tuple(specs)

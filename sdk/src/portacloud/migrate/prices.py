"""The shipped price table and the cost estimate of a plan.

Figures are list prices, dated and sourced per row in ``prices.json``; an estimate is an order
of magnitude for a go/no-go decision, not a bill.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources

from portacloud.migrate.models import CostEstimate, PriceRow

__all__ = [
    "LOCAL_PROVIDERS",
    "PART_SIZE_ESTIMATE",
    "estimate_cost",
    "load_prices",
    "price_for",
    "write_requests",
]

#: Providers whose bytes never cross a metered network.
LOCAL_PROVIDERS = frozenset({"file", "memory"})

#: The part size assumed when counting the requests of a multipart write. Drivers choose their
#: own (8 MiB is the common default); the estimate only needs the order of magnitude.
PART_SIZE_ESTIMATE = 8 * 1024 * 1024

_GIB = 1024**3


@functools.cache
def load_prices() -> dict[str, PriceRow]:
    """Return the shipped price rows by provider name, aliases included."""
    raw = json.loads(resources.files("portacloud.migrate").joinpath("prices.json").read_text())
    rows = {row["provider"]: PriceRow(**row) for row in raw["providers"]}
    for alias, name in raw.get("aliases", {}).items():
        rows.setdefault(alias, rows[name])
    return rows


def price_for(provider: str) -> PriceRow | None:
    """The price row of a provider, or ``None`` when the table has none."""
    return load_prices().get(provider)


def write_requests(size: int) -> int:
    """Requests one object write costs: one PUT, or initiate + parts + complete."""
    if size <= PART_SIZE_ESTIMATE:
        return 1
    return math.ceil(size / PART_SIZE_ESTIMATE) + 2


def list_requests(objects: int) -> int:
    """Listing pages needed for ``objects`` keys (1,000 per page, at least one)."""
    return max(1, math.ceil(objects / 1000))


def estimate_cost(
    *,
    src_provider: str,
    dst_provider: str,
    egress_bytes: int,
    src_objects: int,
    dst_objects: int,
    src_reads: int,
    dst_writes: int,
    dst_deletes: int,
    server_side: bool,
) -> CostEstimate:
    """Estimate the cost of a migration at the shipped list prices.

    Args:
        src_provider: The source bucket's provider name.
        dst_provider: The destination bucket's provider name.
        egress_bytes: Bytes to be read from the source and written elsewhere.
        src_objects: Keys listed at the source (each side is listed twice: plan and verify).
        dst_objects: Keys listed at the destination.
        src_reads: Objects read from the source.
        dst_writes: Write requests at the destination (parts included, see
            :func:`write_requests`).
        dst_deletes: Objects deleted at the destination.
        server_side: Copies run inside the service, so no byte leaves it.

    Returns:
        The estimate; amounts are ``None`` where a provider has no price row.
    """
    src_price, dst_price = price_for(src_provider), price_for(dst_provider)
    notes: list[str] = [
        "list prices, first paid egress tier, free allowances ignored",
        f"multipart writes counted as parts of {PART_SIZE_ESTIMATE // (1024 * 1024)} MiB",
        "both sides are listed twice (plan and verify)",
    ]
    billed_egress = egress_bytes
    if server_side:
        billed_egress = 0
        notes.append("server-side copy: no byte leaves the storage service")
    elif src_provider in LOCAL_PROVIDERS:
        billed_egress = 0
    elif src_provider == dst_provider:
        billed_egress = 0
        notes.append(
            f"source and destination are both {src_provider}: assumed in one region, "
            "no egress charged (cross-region transfer is billed separately)"
        )
    src_lists = 2 * list_requests(src_objects)
    dst_lists = 2 * list_requests(dst_objects)
    source_requests = src_lists + (0 if server_side else src_reads)
    destination_requests = dst_lists + dst_writes + dst_deletes
    egress_usd: float | None = None
    request_usd: float | None = None
    if src_price is None:
        notes.append(f"no price row for provider {src_provider!r}")
    else:
        egress_usd = billed_egress / _GIB * src_price.egress_usd_per_gib
    if src_price is not None and dst_price is not None:
        reads = 0 if server_side else src_reads
        request_usd = (
            reads * src_price.get_usd_per_1000
            + src_lists * src_price.list_usd_per_1000
            + dst_writes * dst_price.put_usd_per_1000
            + dst_lists * dst_price.list_usd_per_1000
            + dst_deletes * dst_price.delete_usd_per_1000
        ) / 1000
    elif dst_price is None:
        notes.append(f"no price row for provider {dst_provider!r}")
    total = None if egress_usd is None or request_usd is None else egress_usd + request_usd
    used = tuple({row.provider: row for row in (src_price, dst_price) if row}.values())
    return CostEstimate(
        egress_bytes=billed_egress,
        egress_usd=egress_usd,
        source_requests=source_requests,
        destination_requests=destination_requests,
        request_usd=request_usd,
        total_usd=total,
        prices=used,
        notes=tuple(notes),
    )

"""Storage list prices (egress, requests) and the cost estimate of a migration plan.

Figures are list prices, dated and sourced per row in ``prices.json``; an estimate is an order
of magnitude for a go/no-go decision, not a bill.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where used: portacloud.migrate imports this module while it initialises.
    from portacloud.migrate.models import CostEstimate, PriceRow

__all__ = [
    "PART_SIZE_ESTIMATE",
    "estimate_cost",
    "load_prices",
    "price_for",
    "write_requests",
]

#: The part size assumed when counting the requests of a multipart write. Drivers choose their
#: own (8 MiB is the common default); the estimate only needs the order of magnitude.
PART_SIZE_ESTIMATE = 8 * 1024 * 1024

_GIB = 1024**3

#: What every estimate assumes, as its first notes.
_ASSUMPTIONS = (
    "list prices, first paid egress tier, free allowances ignored",
    f"multipart writes counted as parts of {PART_SIZE_ESTIMATE // (1024 * 1024)} MiB",
    "both sides are listed twice (plan and verify)",
)


@functools.cache
def load_prices() -> dict[str, PriceRow]:
    """Return the shipped price rows by provider name, aliases included."""
    from portacloud.migrate.models import PriceRow

    raw = json.loads(resources.files("portacloud.costs").joinpath("prices.json").read_text())
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
    from portacloud.migrate.models import CostEstimate

    src_price, dst_price = price_for(src_provider), price_for(dst_provider)
    notes = list(_ASSUMPTIONS)
    billed_egress = _billed_egress(
        egress_bytes, src_provider, dst_provider, src_price, server_side=server_side, notes=notes
    )
    requests = _Requests(
        src_reads=0 if server_side else src_reads,
        src_lists=2 * list_requests(src_objects),
        dst_writes=dst_writes,
        dst_lists=2 * list_requests(dst_objects),
        dst_deletes=dst_deletes,
    )
    egress_usd = None if src_price is None else billed_egress / _GIB * src_price.egress_usd_per_gib
    sides = ((src_provider, src_price), (dst_provider, dst_price))
    notes += [f"no price row for provider {name!r}" for name, row in sides if row is None]
    request_usd = requests.price(src_price, dst_price)
    total = None if egress_usd is None or request_usd is None else egress_usd + request_usd
    used = tuple({row.provider: row for row in (src_price, dst_price) if row}.values())
    return CostEstimate(
        egress_bytes=billed_egress,
        egress_usd=egress_usd,
        source_requests=requests.src_lists + requests.src_reads,
        destination_requests=requests.dst_lists + dst_writes + dst_deletes,
        request_usd=request_usd,
        total_usd=total,
        prices=used,
        notes=tuple(notes),
    )


def _billed_egress(
    egress_bytes: int,
    src_provider: str,
    dst_provider: str,
    src_price: PriceRow | None,
    *,
    server_side: bool,
    notes: list[str],
) -> int:
    """The bytes the source provider bills as egress, with a note on why when none."""
    if server_side:
        notes.append("server-side copy: no byte leaves the storage service")
        return 0
    if src_price is not None and src_price.egress_usd_per_gib == 0:
        # Local storage (a directory, process memory): no byte crosses a metered network.
        return 0
    if src_provider == dst_provider:
        notes.append(
            f"source and destination are both {src_provider}: assumed in one region, "
            "no egress charged (cross-region transfer is billed separately)"
        )
        return 0
    return egress_bytes


@dataclass(frozen=True, slots=True)
class _Requests:
    """The requests a migration makes on each side."""

    src_reads: int
    src_lists: int
    dst_writes: int
    dst_lists: int
    dst_deletes: int

    def price(self, src: PriceRow | None, dst: PriceRow | None) -> float | None:
        """Their price in USD, or ``None`` when a side has no price row."""
        if src is None or dst is None:
            return None
        return (
            self.src_reads * src.get_usd_per_1000
            + self.src_lists * src.list_usd_per_1000
            + self.dst_writes * dst.put_usd_per_1000
            + self.dst_lists * dst.list_usd_per_1000
            + self.dst_deletes * dst.delete_usd_per_1000
        ) / 1000

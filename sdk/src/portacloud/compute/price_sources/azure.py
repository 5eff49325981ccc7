"""The Azure Retail Prices API for Virtual Machines, one region at a time.

Format: https://learn.microsoft.com/en-us/rest/api/cost-management/retail-prices/azure-retail-prices
(``Items`` with ``armSkuName``, ``armRegionName``, ``retailPrice``, ``unitOfMeasure``,
``type``, ``productName``, ``skuName``; ``NextPageLink`` to the next page, ``null`` on the
last). The API has no sizes: only types the catalog already knows get prices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from portacloud.compute.price_sources.models import Fetch, PricePoint, read_json
from portacloud.errors import InvalidArgumentError

__all__ = ["PRICES_URL", "read_region"]

PRICES_URL = "https://prices.azure.com/api/retail/prices?api-version=2023-01-01-preview&$filter="
_FILTER = (
    "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
    "and armRegionName eq '{region}'"
)
#: Pages read at most per region (the API returns up to 1,000 items a page).
MAX_PAGES = 50


def _linux(item: Mapping[str, Any]) -> bool:
    return (
        item.get("type") == "Consumption"
        and item.get("unitOfMeasure") == "1 Hour"
        and "Windows" not in str(item.get("productName", ""))
        and "Low Priority" not in str(item.get("skuName", ""))
        and bool(item.get("armSkuName"))
    )


def _prices(items: list[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Type to {"on_demand": USD, "spot": USD} from a region's items."""
    found: dict[str, dict[str, float]] = {}
    for item in items:
        if not _linux(item):
            continue
        kind = "spot" if str(item.get("skuName", "")).endswith(" Spot") else "on_demand"
        price = float(item["retailPrice"])
        if price > 0:
            found.setdefault(str(item["armSkuName"]), {})[kind] = price
    return found


def _pages(fetch: Fetch, region: str) -> Iterator[list[Mapping[str, Any]]]:
    url: str | None = PRICES_URL + quote(_FILTER.format(region=region))
    page = 1
    while url and page <= MAX_PAGES:
        document = read_json(fetch(f"azure-{region}-{page}.json", url), url)
        if not isinstance(document, dict) or not isinstance(document.get("Items"), list):
            raise InvalidArgumentError(f"{url}: not an Azure retail prices page (Items)")
        yield document["Items"]
        url = document.get("NextPageLink")
        page += 1


def read_region(fetch: Fetch, region: str) -> list[PricePoint]:
    """The Linux pay-as-you-go and spot prices of Azure VM sizes in ``region``.

    Raises:
        NotFoundError: a recorded page is missing (with a directory fetch).
        InvalidArgumentError: a response is not a retail prices page.
    """
    items = [item for page in _pages(fetch, region) for item in page]
    source = f"Azure Retail Prices API, Virtual Machines {region} (Linux, Consumption)"
    return [
        PricePoint(
            provider="azure",
            instance_type=size,
            region=region,
            price_per_hour=prices.get("on_demand"),
            spot_price_per_hour=prices.get("spot"),
            source=source,
        )
        for size, prices in sorted(_prices(items).items())
    ]

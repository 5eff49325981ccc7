"""The GCP Cloud Billing Catalog API: Compute Engine SKUs, priced per vCPU and per GiB.

Format: https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list
(``skus`` with ``description``, ``category.usageType``, ``serviceRegions`` and
``pricingInfo[].pricingExpression.tieredRates[].unitPrice`` as ``units`` + ``nanos``;
``nextPageToken`` empty on the last page). It needs an API key
(https://cloud.google.com/billing/docs/how-to/get-pricing-information-api).

A general-purpose machine type (``n2-standard-8``, ``e2-highmem-4``) costs its vCPUs times the
family's core SKU plus its memory times the family's RAM SKU, on-demand and spot alike; the
sizes come from the catalog. GPU and accelerator-optimized types are not priced here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from portacloud.compute.price_sources.models import Fetch, PricePoint, read_json
from portacloud.errors import InvalidArgumentError

__all__ = ["COMPUTE_SERVICE", "SKUS_URL", "price_types"]

COMPUTE_SERVICE = "6F81-5844-456A"
SKUS_URL = (
    "https://cloudbilling.googleapis.com/v1/services/{service}/skus?currencyCode=USD&key={key}"
)
#: Families priced per vCPU and GiB, as their SKU descriptions name them.
FAMILIES = {"n2": "N2", "e2": "E2"}
_SKU = re.compile(
    r"^(?P<spot>Spot Preemptible )?(?P<family>[A-Z0-9]+) Instance (?P<part>Core|Ram) "
)
MAX_PAGES = 50

# (family, "Core" or "Ram", spot) -> region -> USD per vCPU-hour or GiB-hour
_Rates = dict[tuple[str, str, bool], dict[str, float]]


def _unit_price(sku: Mapping[str, Any]) -> float | None:
    for info in sku.get("pricingInfo", [])[-1:]:
        tiers = info.get("pricingExpression", {}).get("tieredRates", [])
        if tiers:
            money = tiers[-1].get("unitPrice", {})
            return int(money.get("units", "0") or 0) + int(money.get("nanos", 0)) / 1e9
    return None


def _rates(skus: list[Mapping[str, Any]]) -> _Rates:
    rates: _Rates = {}
    # A region's own SKU ("running in Virginia") wins over a multi-regional one ("Americas").
    for sku in sorted(skus, key=lambda sku: -len(sku.get("serviceRegions", []))):
        usage = sku.get("category", {}).get("usageType")
        found = _SKU.match(str(sku.get("description", "")))
        if found is None or usage not in ("OnDemand", "Preemptible"):
            continue
        spot = usage == "Preemptible" or found.group("spot") is not None
        price = _unit_price(sku)
        if price is None:
            continue
        key = (found.group("family"), found.group("part"), spot)
        for region in sku.get("serviceRegions", []):
            rates.setdefault(key, {})[region] = price
    return rates


def _machine_price(
    rates: _Rates, family: str, region: str, vcpus: float, memory: float, *, spot: bool
) -> float | None:
    core = rates.get((family, "Core", spot), {}).get(region)
    ram = rates.get((family, "Ram", spot), {}).get(region)
    return None if core is None or ram is None else round(vcpus * core + memory * ram, 6)


def _pages(fetch: Fetch, key: str) -> Iterator[list[Mapping[str, Any]]]:
    base = SKUS_URL.format(service=COMPUTE_SERVICE, key=quote(key))
    token = ""
    for page in range(1, MAX_PAGES + 1):
        url = base + (f"&pageToken={quote(token)}" if token else "")
        document = read_json(fetch(f"gcp-skus-{page}.json", url), url.partition("?")[0])
        if not isinstance(document, dict) or not isinstance(document.get("skus"), list):
            raise InvalidArgumentError(
                f"{url.partition('?')[0]}: not a Cloud Billing SKU list (skus)"
            )
        yield document["skus"]
        token = str(document.get("nextPageToken") or "")
        if not token:
            return


def price_types(
    fetch: Fetch, key: str, shapes: Mapping[tuple[str, str], tuple[float, float]]
) -> list[PricePoint]:
    """Prices of the general-purpose types in ``shapes`` ((type, region) -> (vCPUs, GiB)).

    Raises:
        NotFoundError: a recorded page is missing (with a directory fetch).
        InvalidArgumentError: a response is not a SKU list.
    """
    rates = _rates([sku for page in _pages(fetch, key) for sku in page])
    source = f"GCP Cloud Billing Catalog API, Compute Engine ({COMPUTE_SERVICE}) core + RAM SKUs"
    points = []
    for (instance_type, region), (vcpus, memory) in sorted(shapes.items()):
        family = FAMILIES.get(instance_type.split("-", 1)[0])
        if family is None:
            continue

        on_demand = _machine_price(rates, family, region, vcpus, memory, spot=False)
        spot = _machine_price(rates, family, region, vcpus, memory, spot=True)
        if on_demand is not None:
            points.append(
                PricePoint(
                    provider="gcp",
                    instance_type=instance_type,
                    region=region,
                    price_per_hour=on_demand,
                    spot_price_per_hour=spot,
                    source=source,
                )
            )
    return points

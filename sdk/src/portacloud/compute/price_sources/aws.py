"""The AWS Price List bulk files for EC2 (one ``index.json`` per region).

Format: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
(``products`` by SKU with ``attributes``; ``terms.OnDemand`` by SKU, then offer term, with
``priceDimensions`` whose ``pricePerUnit.USD`` is per ``Hrs``). The bulk files have no spot
prices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from portacloud.compute.price_sources.models import Fetch, PricePoint, Shape, read_json
from portacloud.errors import InvalidArgumentError

__all__ = ["OFFER_URL", "read_region"]

OFFER_URL = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/{region}/index.json"
)
# A Linux on-demand price of a type on shared hardware, as most users run it.
_WANTED = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def _shape(attributes: Mapping[str, str]) -> Shape | None:
    memory = re.fullmatch(r"([\d.,]+) GiB", attributes.get("memory", ""))
    try:
        vcpus = float(attributes["vcpu"])
    except (KeyError, ValueError):
        return None
    if memory is None:
        return None
    gpus = attributes.get("gpu", "0")
    return Shape(
        vcpus=vcpus,
        memory_gb=float(memory.group(1).replace(",", "")),
        gpu_count=int(gpus) if gpus.isdigit() else 0,
    )


def _hourly(terms: Mapping[str, Any]) -> float | None:
    """The USD per hour of an SKU's on-demand offer terms (``None`` when none is hourly)."""
    for term in terms.values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") == "Hrs" and "USD" in dimension.get("pricePerUnit", {}):
                return float(dimension["pricePerUnit"]["USD"])
    return None


def _points(document: Mapping[str, Any], region: str, source: str) -> Iterator[PricePoint]:
    on_demand = document.get("terms", {}).get("OnDemand", {})
    for sku, product in document.get("products", {}).items():
        attributes = product.get("attributes", {})
        if product.get("productFamily") != "Compute Instance":
            continue
        if any(attributes.get(k) != v for k, v in _WANTED.items()):
            continue
        price = _hourly(on_demand.get(sku, {}))
        if price is None or price <= 0 or "instanceType" not in attributes:
            continue
        yield PricePoint(
            provider="aws",
            instance_type=attributes["instanceType"],
            region=attributes.get("regionCode", region),
            price_per_hour=price,
            shape=_shape(attributes),
            source=source,
        )


def read_region(fetch: Fetch, region: str) -> list[PricePoint]:
    """The Linux on-demand prices of EC2 in ``region``.

    Raises:
        NotFoundError: a recorded response is missing (with a directory fetch).
        InvalidArgumentError: the response is not a price list file.
    """
    url = OFFER_URL.format(region=region)
    document = read_json(fetch(f"aws-{region}.json", url), url)
    if not isinstance(document, dict) or document.get("offerCode") != "AmazonEC2":
        raise InvalidArgumentError(f"{url}: not an AmazonEC2 price list file (offerCode)")
    published = str(document.get("publicationDate", "?"))[:10]
    source = f"AWS Price List bulk file AmazonEC2 {region} (published {published}; on-demand)"
    return list(_points(document, region, source))

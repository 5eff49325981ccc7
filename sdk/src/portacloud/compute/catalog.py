"""The shipped instance catalog: which instance types satisfy a :class:`Resources`, at what price.

The catalog is data (``data/catalog.csv``), dated and sourced row by row, built by
``scripts/build_catalog.py`` and checked by :func:`lint_catalog` (``portacloud catalog lint``).
It is read once, lazily, and needs no vendor SDK.

Matching follows SkyPilot: a row satisfies a request when it has at least the vCPUs and
memory asked for and exactly the GPU count asked for, of the canonical model asked for (any
model when only a count is given). Prices are list prices at the row's ``as_of`` date; use
them to order options, not to quote.

The provider ``local`` is not part of the data: it is this machine, described when asked.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

from portacloud.compute.catalog_data import (
    CATALOG_PROVIDERS,
    CSV_COLUMNS,
    KNOWN_FLAGS,
    LOCAL_PROVIDER,
    CatalogRow,
    catalog_region,
    catalog_rows,
    check_provider,
    regions_for,
)
from portacloud.compute.catalog_lint import lint_catalog
from portacloud.compute.gpus import canonical_gpu, gpu_models
from portacloud.compute.models import Offer
from portacloud.errors import InvalidArgumentError
from portacloud.residency import RegionPolicy
from portacloud.resources import Resources
from portacloud.validation import validated

__all__ = [
    "CATALOG_PROVIDERS",
    "CSV_COLUMNS",
    "KNOWN_FLAGS",
    "LOCAL_PROVIDER",
    "CatalogRow",
    "catalog_region",
    "catalog_rows",
    "gpu_counts",
    "lint_catalog",
    "local_offer",
    "offers",
    "parse_resources",
    "regions_for",
]


def parse_resources(
    *, cpus: float | None = None, memory_gb: float | None = None, gpus: int | str | None = None
) -> Resources:
    """Build :class:`Resources` from loose values (the CLI's options), as INVALID_ARGUMENT.

    Raises:
        InvalidArgumentError: a size that is zero, negative or too large, or a malformed
            ``gpus`` string; the message names the field.
    """
    loose = {"cpus": cpus, "memory_gb": memory_gb, "gpus": gpus}
    return validated(Resources, loose, what="resources")


def _requested_gpu(resources: Resources) -> str | None:
    return canonical_gpu(resources.gpu_type) if resources.gpu_type is not None else None


def _satisfies(row: CatalogRow, resources: Resources, gpu: str | None) -> bool:
    if resources.cpus is not None and row.vcpus < resources.cpus:
        return False
    if resources.memory_gb is not None and row.memory_gb < resources.memory_gb:
        return False
    if row.gpu_count != resources.gpu_count:
        return False
    return gpu is None or row.gpu == gpu


def gpu_counts(gpu: str | None, *, providers: Iterable[str] | None = None) -> dict[str, list[int]]:
    """GPU counts per instance that the catalog has, per provider.

    Args:
        gpu: Any GPU name (``None`` for any model).
        providers: Providers to look at; all catalog providers by default.

    Returns:
        Provider to sorted counts, leaving out providers with none.
    """
    wanted = canonical_gpu(gpu) if gpu is not None else None
    scope = set(CATALOG_PROVIDERS if providers is None else map(check_provider, providers))
    found: dict[str, set[int]] = {}
    for row in catalog_rows():
        if row.provider in scope and row.gpu_count and (wanted is None or row.gpu == wanted):
            found.setdefault(row.provider, set()).add(row.gpu_count)
    return {p: sorted(found[p]) for p in CATALOG_PROVIDERS if p in found}


def _check_shape_exists(resources: Resources, gpu: str | None, scope: Sequence[str]) -> None:
    """Refuse a GPU model or count no provider in ``scope`` has in any region.

    Regions, vCPUs and memory are left out on purpose: they narrow a shape that exists, and
    an empty answer for them is the caller's to explain, while a shape that exists nowhere is
    a request to fix.
    """
    if resources.gpu_count == 0 or not scope:
        return
    where = "/".join(scope)
    counts = gpu_counts(gpu, providers=scope)
    what = f"{gpu} GPUs" if gpu else "GPUs"
    if not counts:
        offered = sorted({r.gpu for r in catalog_rows() if r.provider in scope and r.gpu})
        raise InvalidArgumentError(
            f"no {where} instance type in the catalog has {what}; "
            f"GPUs it has: {', '.join(offered) or 'none'}"
        )
    if not any(resources.gpu_count in c for c in counts.values()):
        per_provider = "; ".join(f"{p}: {', '.join(map(str, c))}" for p, c in counts.items())
        raise InvalidArgumentError(
            f"no {where} instance type has {resources.gpu_count}x {what}; "
            f"counts that exist: {per_provider}"
        )


def offers(
    resources: Resources,
    *,
    providers: Sequence[str] | None = None,
    region: str | None = None,
    spot: bool = False,
    policy: RegionPolicy | None = None,
) -> list[Offer]:
    """Instance types that satisfy ``resources``, cheapest first.

    Args:
        resources: What is needed. vCPUs and memory are minimums; the GPU count is exact,
            the GPU model is matched in canonical form (``a100-80gb``, ``nvidia-tesla-t4``
            and ``H100 80GB`` are accepted), and a bare count accepts any model.
        providers: Catalog providers to search (``aws``, ``gcp``, ``azure``, ``local``);
            the three clouds by default. ``local`` describes this machine and is only
            searched when named.
        region: Only this region (a zone is read as its region). A region the catalog has no
            rows for gives an empty list; :func:`regions_for` lists the ones it has.
        spot: Only rows with a spot price, sorted by it.
        policy: Only regions a profile's region policy allows (``local`` rows, which have no
            region a provider reports, only where it allows unknown regions).

    Returns:
        Matching offers sorted by price (spot price with ``spot=True``).

    Raises:
        InvalidArgumentError: an unknown provider or GPU name (with the closest names), or a
            GPU model or count that no searched provider has anywhere (with the counts that
            exist, per provider).
    """
    if not isinstance(resources, Resources):
        raise InvalidArgumentError(f"resources must be a Resources, not {type(resources)!r}")
    scope = list(
        dict.fromkeys(CATALOG_PROVIDERS if providers is None else map(check_provider, providers))
    )
    gpu = _requested_gpu(resources)
    clouds = [p for p in scope if p != LOCAL_PROVIDER]
    _check_shape_exists(resources, gpu, clouds)
    found = _cloud_offers(resources, gpu, clouds, region=region, spot=spot)
    if LOCAL_PROVIDER in scope and region in (None, LOCAL_PROVIDER) and not spot:
        here = local_offer()
        if _local_satisfies(here, resources, gpu):
            found.append(here)
    if policy is not None:
        found = [o for o in found if _inside(policy, o)]
    return sorted(found, key=lambda offer: _price_key(offer, spot=spot))


def _inside(policy: RegionPolicy, offer: Offer) -> bool:
    if offer.provider == LOCAL_PROVIDER:
        return policy.unknown_region == "allow"
    return policy.allows(offer.region)


def _cloud_offers(
    resources: Resources,
    gpu: str | None,
    clouds: Sequence[str],
    *,
    region: str | None,
    spot: bool,
) -> list[Offer]:
    """The shipped rows of ``clouds`` (in ``region``, with a spot price) that satisfy."""
    found: list[Offer] = []
    for provider in clouds:
        wanted_region = catalog_region(provider, region) if region is not None else None
        for row in catalog_rows():
            if row.provider != provider or (wanted_region and row.region != wanted_region):
                continue
            if spot and row.spot_price_per_hour is None:
                continue
            if _satisfies(row, resources, gpu):
                found.append(row.to_offer())
    return found


def _price_key(offer: Offer, *, spot: bool) -> tuple[float, str, str, str]:
    cost = offer.spot_price_per_hour if spot else offer.price_per_hour
    return (
        cost if cost is not None else math.inf,
        offer.provider,
        offer.instance_type,
        offer.region,
    )


def _local_satisfies(offer: Offer, resources: Resources, gpu: str | None) -> bool:
    # This machine is not bought by shape: a job wanting one GPU runs on a box with eight.
    if resources.cpus is not None and offer.vcpus < resources.cpus:
        return False
    # memory_gb 0 means this platform cannot say (no sysconf): not a reason to refuse.
    if (
        resources.memory_gb is not None
        and offer.memory_gb
        and offer.memory_gb < resources.memory_gb
    ):
        return False
    if offer.gpu_count < resources.gpu_count:
        return False
    return gpu is None or offer.gpu == gpu


def _physical_memory_gb() -> float:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0.0
    return round(pages * page_size / 2**30, 1)


def local_offer() -> Offer:
    """This machine as an offer: its vCPUs, memory and GPUs, at no cost.

    The GPU is the most common model NVML or ``nvidia-smi`` reports, in canonical form where
    the taxonomy knows it (else the device name as reported), with the count of that model.
    """
    from portacloud.jobs.gpus import detect_gpus

    names = []
    for _, device in detect_gpus():
        try:
            names.append(canonical_gpu(device))
        except InvalidArgumentError:
            names.append(device)
    gpu, count = Counter(names).most_common(1)[0] if names else (None, 0)
    known = {m.name: m.memory_gb for m in gpu_models()}
    return Offer(
        provider=LOCAL_PROVIDER,
        instance_type=LOCAL_PROVIDER,
        region=LOCAL_PROVIDER,
        vcpus=float(os.cpu_count() or 1),
        memory_gb=_physical_memory_gb(),
        gpu=gpu,
        gpu_count=count,
        gpu_memory_gb=known.get(gpu) if gpu else None,
        price_per_hour=0.0,
        as_of=date.today(),
        source="this machine",
    )

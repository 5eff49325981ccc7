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

import csv
import functools
import io
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from importlib import resources as importlib_resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from portacloud.compute.gpus import canonical_gpu, gpu_model, gpu_models, taxonomy
from portacloud.compute.models import Offer
from portacloud.errors import InternalError, InvalidArgumentError
from portacloud.resources import Resources

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

CSV_COLUMNS = (
    "provider",
    "instance_type",
    "region",
    "vcpus",
    "memory_gb",
    "gpu",
    "gpu_count",
    "gpu_memory_gb",
    "price_per_hour",
    "spot_price_per_hour",
    "as_of",
    "source",
    "flags",
)
#: Providers the shipped data covers.
CATALOG_PROVIDERS = ("aws", "gcp", "azure")
#: The provider that describes this machine at run time.
LOCAL_PROVIDER = "local"
#: Flags a row may carry to vouch for a price the linter would otherwise refuse.
KNOWN_FLAGS = {
    "zero_price_ok": "the type is really free, so a price of 0 is not a placeholder",
    "price_checked": "a person checked a price outside the plausible range against the provider",
}
# Values catalogs write where they have no price: SkyPilot's GCP TPU_V6E_MAX_PRICE is 700.0.
_SENTINEL_PRICES = frozenset({700.0, 999.0, 9999.0, 99999.0, 999999.0})
# No instance type of the three clouds lists above this per hour (p5.48xlarge is ~98).
_MAX_PLAUSIBLE_PRICE = 500.0
_MEMORY_TOLERANCE_GB = 0.5


class CatalogRow(BaseModel):
    """One instance type in one region, as the shipped catalog lists it.

    Attributes:
        provider: ``aws``, ``gcp`` or ``azure``.
        instance_type: The provider's type name.
        region: The region the prices are for.
        vcpus: vCPUs.
        memory_gb: Memory in GiB.
        gpu: Canonical GPU name, or ``None``.
        gpu_count: GPUs per instance.
        gpu_memory_gb: Memory per GPU in GB, or ``None``.
        price_per_hour: On-demand USD per hour.
        spot_price_per_hour: Spot USD per hour, or ``None`` where unknown.
        as_of: When the price was read.
        source: Where it was read.
        flags: Flags from :data:`KNOWN_FLAGS`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    instance_type: str = Field(min_length=1)
    region: str = Field(min_length=1)
    vcpus: float = Field(gt=0)
    memory_gb: float = Field(gt=0)
    gpu: str | None = None
    gpu_count: int = Field(default=0, ge=0)
    gpu_memory_gb: float | None = None
    price_per_hour: float = Field(ge=0)
    spot_price_per_hour: float | None = None
    as_of: date
    source: str = Field(min_length=1)
    flags: tuple[str, ...] = ()

    def to_offer(self) -> Offer:
        """The row as the portable :class:`Offer`."""
        return Offer.model_validate(self.model_dump(exclude={"flags"}))


def _shipped_text() -> str:
    data = importlib_resources.files("portacloud.compute").joinpath("data")
    return data.joinpath("catalog.csv").read_text("utf-8")


def _cell(raw: Mapping[str, str | None], column: str) -> str:
    return (raw.get(column) or "").strip()


def _row_from_csv(raw: Mapping[str, str | None]) -> CatalogRow:
    def optional(column: str) -> str | None:
        return _cell(raw, column) or None

    return CatalogRow.model_validate(
        {
            "provider": _cell(raw, "provider"),
            "instance_type": _cell(raw, "instance_type"),
            "region": _cell(raw, "region"),
            "vcpus": _cell(raw, "vcpus"),
            "memory_gb": _cell(raw, "memory_gb"),
            "gpu": optional("gpu"),
            "gpu_count": _cell(raw, "gpu_count") or "0",
            "gpu_memory_gb": optional("gpu_memory_gb"),
            "price_per_hour": _cell(raw, "price_per_hour"),
            "spot_price_per_hour": optional("spot_price_per_hour"),
            "as_of": _cell(raw, "as_of"),
            "source": _cell(raw, "source"),
            "flags": tuple(f for f in _cell(raw, "flags").split(";") if f),
        }
    )


@functools.cache
def catalog_rows() -> tuple[CatalogRow, ...]:
    """Every row of the shipped catalog, read once.

    Raises:
        InternalError: the shipped file is malformed (``portacloud catalog lint`` says where).
    """
    rows = []
    reader = csv.DictReader(io.StringIO(_shipped_text()))
    for raw in reader:
        try:
            rows.append(_row_from_csv(raw))
        except ValidationError as exc:
            raise InternalError(
                f"shipped catalog line {reader.line_num} is malformed ({exc.error_count()} "
                "problems); run 'portacloud catalog lint'"
            ) from None
    return tuple(rows)


@functools.cache
def _regions() -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = {}
    for row in catalog_rows():
        found.setdefault(row.provider, set()).add(row.region)
    return {provider: tuple(sorted(regions)) for provider, regions in found.items()}


def _check_provider(provider: str) -> str:
    name = provider.strip().lower() if isinstance(provider, str) else provider
    if name not in (*CATALOG_PROVIDERS, LOCAL_PROVIDER):
        known = ", ".join((*CATALOG_PROVIDERS, LOCAL_PROVIDER))
        raise InvalidArgumentError(f"unknown catalog provider {provider!r}; known: {known}")
    return str(name)


def regions_for(provider: str) -> list[str]:
    """The regions the catalog has rows for, so an error can say where a type exists.

    Raises:
        InvalidArgumentError: an unknown provider name.
    """
    name = _check_provider(provider)
    if name == LOCAL_PROVIDER:
        return [LOCAL_PROVIDER]
    return list(_regions().get(name, ()))


def catalog_region(provider: str, region: str) -> str:
    """The catalog region of ``region``, which may be a zone (``us-east-1a``, ``us-central1-a``).

    Prices are per region, so a driver opened on a zone gets its region's rows. A region the
    catalog does not know comes back lower-cased and otherwise unchanged.
    """
    provider = _check_provider(provider)
    wanted = region.strip().lower()
    known = _regions().get(provider, ())
    if wanted in known:
        return wanted
    for candidate in (re.sub(r"-[a-z]$", "", wanted), re.sub(r"(?<=\d)[a-z]$", "", wanted)):
        if candidate in known:
            return candidate
    return wanted


def parse_resources(
    *, cpus: float | None = None, memory_gb: float | None = None, gpus: int | str | None = None
) -> Resources:
    """Build :class:`Resources` from loose values (the CLI's options), as INVALID_ARGUMENT.

    Raises:
        InvalidArgumentError: a size that is zero, negative or too large, or a malformed
            ``gpus`` string; the message names the field.
    """
    try:
        return Resources(cpus=cpus, memory_gb=memory_gb, gpus=gpus)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'resources'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidArgumentError(f"invalid resources: {problems}") from None


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
    scope = set(CATALOG_PROVIDERS if providers is None else map(_check_provider, providers))
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
        dict.fromkeys(CATALOG_PROVIDERS if providers is None else map(_check_provider, providers))
    )
    gpu = _requested_gpu(resources)
    clouds = [p for p in scope if p != LOCAL_PROVIDER]
    _check_shape_exists(resources, gpu, clouds)
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
    if LOCAL_PROVIDER in scope and region in (None, LOCAL_PROVIDER) and not spot:
        here = local_offer()
        if _local_satisfies(here, resources, gpu):
            found.append(here)

    def price(offer: Offer) -> tuple[float, str, str, str]:
        cost = offer.spot_price_per_hour if spot else offer.price_per_hour
        return (
            cost if cost is not None else math.inf,
            offer.provider,
            offer.instance_type,
            offer.region,
        )

    return sorted(found, key=price)


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


# ----------------------------------------------------------------------------- the linter


def lint_catalog(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Check a catalog file (the shipped one by default); one line per problem.

    Checked: the header; no duplicate (provider, instance type, region); sizes that parse
    and are positive; prices that are neither zero nor a known sentinel nor implausibly high
    unless flagged; spot below on-demand (equal means a filled-in value); GPU names in
    canonical form, memory per GPU as in the taxonomy, GPU counts that exist for the model,
    the instance family's GPU and the documented shapes (``p4d.24xlarge`` has 8 A100);
    an ``as_of`` date that is not in the future and a ``source`` on every row. The taxonomy
    itself is checked too. ``local`` rows are refused: that provider is never shipped.

    Args:
        path: A catalog CSV; ``None`` for the shipped ``data/catalog.csv``.

    Returns:
        Problems as ``file:line: provider instance_type region: what``; empty when clean.
    """
    if path is None:
        name, text = "catalog.csv", _shipped_text()
    else:
        name = os.fspath(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            return [f"{name}: cannot read: {exc.strerror or exc}"]
    problems = _lint_taxonomy()
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != CSV_COLUMNS:
        missing = [c for c in CSV_COLUMNS if c not in header]
        detail = f"missing {', '.join(missing)}" if missing else f"expected {','.join(CSV_COLUMNS)}"
        return [*problems, f"{name}:1: header: {detail}"]
    seen: dict[tuple[str, str, str], int] = {}
    for raw in reader:
        line = reader.line_num
        key = (_cell(raw, "provider"), _cell(raw, "instance_type"), _cell(raw, "region"))
        where = f"{name}:{line}: {' '.join(k or '?' for k in key)}"
        if key in seen:
            problems.append(f"{where}: duplicate of line {seen[key]}")
        else:
            seen[key] = line
        problems.extend(f"{where}: {p}" for p in _lint_row(raw))
    return problems


def _lint_taxonomy() -> list[str]:
    problems: list[str] = []
    try:
        canonical_gpu("A100")  # builds the alias index, which refuses a name claimed twice
    except ValueError as exc:
        problems.append(str(exc))
    names = {m.name: m for m in gpu_models()}
    tax = taxonomy()
    for provider, rules in tax.families.items():
        problems.extend(
            f"gpus.json: {provider} family {r.pattern!r} names unknown GPU {r.gpu!r}"
            for r in rules
            if r.gpu not in names
        )
    for shape in tax.shapes:
        model = names.get(shape.gpu)
        if model is None:
            problems.append(f"gpus.json: shape {shape.instance_type} names unknown {shape.gpu!r}")
        elif shape.count not in model.counts:
            problems.append(
                f"gpus.json: shape {shape.instance_type} has {shape.count}x {shape.gpu}, "
                f"not among the model's counts {list(model.counts)}"
            )
    return problems


def _number(value: str, what: str, problems: list[str]) -> float | None:
    if not value:
        problems.append(f"{what} is missing")
        return None
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{what} {value!r} is not a number")
        return None
    if not math.isfinite(number):
        problems.append(f"{what} {value!r} is not a finite number")
        return None
    return number


def _price_problems(value: float, what: str, flags: set[str]) -> list[str]:
    if value < 0:
        return [f"{what} {value:g} is negative"]
    if value == 0 and "zero_price_ok" not in flags:
        return [f"{what} 0 is a placeholder, not a price (flag zero_price_ok if it is free)"]
    if value in _SENTINEL_PRICES and "price_checked" not in flags:
        return [f"{what} {value:g} is a sentinel some catalogs write for 'no price'"]
    if value > _MAX_PLAUSIBLE_PRICE and "price_checked" not in flags:
        return [
            f"{what} {value:g} $/h is above any instance of the three clouds "
            f"(> {_MAX_PLAUSIBLE_PRICE:g}); flag price_checked if it is real"
        ]
    return []


def _lint_row(raw: Mapping[str, str | None]) -> list[str]:
    problems: list[str] = []
    provider, instance_type = _cell(raw, "provider"), _cell(raw, "instance_type")
    if provider == LOCAL_PROVIDER:
        problems.append("provider 'local' describes this machine at run time; never ship it")
    elif provider not in CATALOG_PROVIDERS:
        problems.append(f"unknown provider {provider!r} (one of {', '.join(CATALOG_PROVIDERS)})")
    if not instance_type:
        problems.append("instance_type is missing")
    if not _cell(raw, "region"):
        problems.append("region is missing")
    for column in ("vcpus", "memory_gb"):
        size = _number(_cell(raw, column), column, problems)
        if size is not None and size <= 0:
            problems.append(f"{column} {size:g} must be positive")
    flags = {f for f in _cell(raw, "flags").split(";") if f}
    problems.extend(
        f"unknown flag {f!r} (known: {', '.join(KNOWN_FLAGS)})"
        for f in flags
        if f not in KNOWN_FLAGS
    )
    price = _number(_cell(raw, "price_per_hour"), "price_per_hour", problems)
    if price is not None:
        problems.extend(_price_problems(price, "on-demand price", flags))
    spot_text = _cell(raw, "spot_price_per_hour")
    spot = _number(spot_text, "spot_price_per_hour", problems) if spot_text else None
    if spot is not None:
        problems.extend(_price_problems(spot, "spot price", flags))
        if price is not None and spot > price:
            problems.append(f"spot price {spot:g} is above the on-demand price {price:g}")
        elif price is not None and spot == price and price > 0:
            problems.append(
                f"spot price equals the on-demand price {price:g}: a filled-in value, not a "
                "spot price (leave it empty)"
            )
    problems.extend(_lint_dates_and_source(raw))
    problems.extend(_lint_gpu(raw, provider, instance_type))
    return problems


def _lint_dates_and_source(raw: Mapping[str, str | None]) -> list[str]:
    problems = []
    as_of = _cell(raw, "as_of")
    if not as_of:
        problems.append("as_of is missing: every price needs the date it was read")
    else:
        try:
            when = date.fromisoformat(as_of)
        except ValueError:
            problems.append(f"as_of {as_of!r} is not a YYYY-MM-DD date")
        else:
            if when > date.today():
                problems.append(f"as_of {as_of} is in the future")
    if not _cell(raw, "source"):
        problems.append("source is missing: every price needs where it was read")
    return problems


def _lint_gpu(raw: Mapping[str, str | None], provider: str, instance_type: str) -> list[str]:
    problems: list[str] = []
    gpu = _cell(raw, "gpu")
    count_text = _cell(raw, "gpu_count") or "0"
    try:
        count = int(count_text)
    except ValueError:
        return [f"gpu_count {count_text!r} is not a whole number"]
    if count < 0:
        return [f"gpu_count {count} is negative"]
    memory_text = _cell(raw, "gpu_memory_gb")
    rule = taxonomy().family_rule(provider, instance_type)
    if count == 0:
        if gpu or memory_text:
            problems.append(f"GPU {gpu or '?'} / memory {memory_text or '?'} with a count of 0")
        if rule is not None:
            problems.append(f"{instance_type} is a {rule.gpu} type but the row has no GPU")
        return problems
    if not gpu:
        return [*problems, f"{count} GPUs of no model: the gpu column is empty"]
    try:
        model = gpu_model(gpu)
    except InvalidArgumentError as exc:
        return [*problems, exc.message]
    if model.name != gpu:
        problems.append(f"GPU name {gpu!r} is not canonical; write {model.name!r}")
    if count not in model.counts:
        problems.append(
            f"{count}x {model.name} is not a shape that exists (counts: "
            f"{', '.join(map(str, model.counts))})"
        )
    memory = _number(memory_text, "gpu_memory_gb", problems)
    if memory is not None and abs(memory - model.memory_gb) > _MEMORY_TOLERANCE_GB:
        problems.append(
            f"GPU memory {memory:g} GB per GPU, but {model.name} has {model.memory_gb:g} GB"
        )
    problems.extend(_lint_family(provider, instance_type, model.name, count))
    return problems


def _lint_family(provider: str, instance_type: str, gpu: str, count: int) -> list[str]:
    problems = []
    tax = taxonomy()
    rule = tax.family_rule(provider, instance_type)
    if rule is None:
        problems.append(
            f"{gpu} on {instance_type}: no instance-family rule in gpus.json says which GPU "
            "this type carries"
        )
    else:
        if rule.gpu != gpu:
            problems.append(f"{instance_type} carries {rule.gpu}, not {gpu}")
        found = rule.match(instance_type)
        if found is not None and "count" in found.groupdict():
            named = int(found.group("count"))
            if named != count:
                problems.append(
                    f"{instance_type} has {named} GPUs by its name, the row says {count}"
                )
    shape = tax.known_shape(provider, instance_type)
    if shape is not None and (shape.gpu, shape.count) != (gpu, count):
        problems.append(
            f"{instance_type} has {shape.count}x {shape.gpu} (provider docs), "
            f"the row says {count}x {gpu}"
        )
    return problems

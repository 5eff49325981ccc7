"""The catalog linter (``portacloud catalog lint``): what a shipped row must satisfy.

Every price needs a date and a source; sizes parse and are positive; prices are neither
placeholders nor sentinels nor implausible unless flagged; GPU rows agree with the GPU taxonomy
(``gpus.json``): canonical names, memory per GPU, counts and instance families.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from portacloud.compute.catalog_data import (
    CATALOG_PROVIDERS,
    CSV_COLUMNS,
    KNOWN_FLAGS,
    LOCAL_PROVIDER,
    cell,
    shipped_text,
)
from portacloud.compute.gpus import canonical_gpu, gpu_model, gpu_models, taxonomy
from portacloud.errors import InvalidArgumentError

__all__ = ["lint_catalog"]

_SENTINEL_PRICES = frozenset({700.0, 999.0, 9999.0, 99999.0, 999999.0})
# No instance type of the three clouds lists above this per hour (p6-b200.48xlarge is ~114).
_MAX_PLAUSIBLE_PRICE = 500.0
_MEMORY_TOLERANCE_GB = 0.5


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
        name, text = "catalog.csv", shipped_text()
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
        key = (cell(raw, "provider"), cell(raw, "instance_type"), cell(raw, "region"))
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
    provider, instance_type = cell(raw, "provider"), cell(raw, "instance_type")
    if provider == LOCAL_PROVIDER:
        problems.append("provider 'local' describes this machine at run time; never ship it")
    elif provider not in CATALOG_PROVIDERS:
        problems.append(f"unknown provider {provider!r} (one of {', '.join(CATALOG_PROVIDERS)})")
    if not instance_type:
        problems.append("instance_type is missing")
    if not cell(raw, "region"):
        problems.append("region is missing")
    for column in ("vcpus", "memory_gb"):
        size = _number(cell(raw, column), column, problems)
        if size is not None and size <= 0:
            problems.append(f"{column} {size:g} must be positive")
    flags = {f for f in cell(raw, "flags").split(";") if f}
    problems.extend(
        f"unknown flag {f!r} (known: {', '.join(KNOWN_FLAGS)})"
        for f in flags
        if f not in KNOWN_FLAGS
    )
    price = _number(cell(raw, "price_per_hour"), "price_per_hour", problems)
    if price is not None:
        problems.extend(_price_problems(price, "on-demand price", flags))
    spot_text = cell(raw, "spot_price_per_hour")
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
    as_of = cell(raw, "as_of")
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
    if not cell(raw, "source"):
        problems.append("source is missing: every price needs where it was read")
    return problems


def _lint_gpu(raw: Mapping[str, str | None], provider: str, instance_type: str) -> list[str]:
    problems: list[str] = []
    gpu = cell(raw, "gpu")
    count_text = cell(raw, "gpu_count") or "0"
    try:
        count = int(count_text)
    except ValueError:
        return [f"gpu_count {count_text!r} is not a whole number"]
    if count < 0:
        return [f"gpu_count {count} is negative"]
    memory_text = cell(raw, "gpu_memory_gb")
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

"""``portacloud catalog update``: refresh prices from the providers' public price sources.

Prices of the types the catalog has are replaced by what the sources say today (dated and
sourced per row); AWS types of families the catalog knows, or GPU types of a known family
rule, are added with the sizes the AWS price list gives. The result is written to the user's
catalog (:func:`~portacloud.compute.catalog_data.user_catalog_path`), which ``offers`` and
every price read from then on, after ``portacloud catalog lint`` found it clean.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from portacloud.compute.catalog_data import (
    CATALOG_PROVIDERS,
    CSV_COLUMNS,
    CatalogRow,
    catalog_rows,
    regions_for,
    row_from_csv,
    shipped_text,
    user_catalog_path,
)
from portacloud.compute.catalog_lint import lint_catalog
from portacloud.compute.gpus import gpu_model, taxonomy
from portacloud.compute.price_sources import aws, azure, gcp
from portacloud.compute.price_sources.models import Fetch, PricePoint
from portacloud.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)

__all__ = [
    "CatalogChange",
    "UpdateResult",
    "catalog_changes",
    "changes_by_type",
    "update_catalog",
]

#: Price moves smaller than this are not listed as changes.
MOVE_THRESHOLD = 0.05
_Key = tuple[str, str, str]


class CatalogChange(BaseModel):
    """One difference between the updated catalog and the shipped one.

    Attributes:
        kind: ``new`` (a type the shipped catalog lacks in that region) or ``price``.
        provider: The cloud.
        instance_type: The type.
        region: The region.
        old: The shipped on-demand price (``None`` for a new row).
        new: The updated on-demand price.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    provider: str
    instance_type: str
    region: str
    old: float | None = None
    new: float

    @property
    def move(self) -> float | None:
        """The relative move (+0.10 is 10% dearer), for ``price`` changes."""
        return None if not self.old else (self.new - self.old) / self.old


class UpdateResult(BaseModel):
    """What ``catalog update`` did.

    Attributes:
        path: The user's catalog it wrote.
        rows: Rows in it.
        updated: Rows whose price was read today.
        changes: New types and price moves above 5%, against the shipped catalog.
        notes: What was skipped, and why.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    rows: int
    updated: int
    changes: tuple[CatalogChange, ...]
    notes: tuple[str, ...]


def _collect(
    cloud: str, fetch: Fetch, gcp_key: str | None, rows: Sequence[CatalogRow], notes: list[str]
) -> list[PricePoint]:
    """The price points of one cloud, skipping regions whose response is missing."""
    if cloud == "gcp":
        if not gcp_key:
            raise InvalidArgumentError(
                "the GCP Cloud Billing Catalog API needs an API key: set PORTACLOUD_GCP_API_KEY"
            )
        shapes = {
            (r.instance_type, r.region): (r.vcpus, r.memory_gb)
            for r in rows
            if r.provider == "gcp" and r.gpu_count == 0
        }
        return gcp.price_types(fetch, gcp_key, shapes)
    reader = aws.read_region if cloud == "aws" else azure.read_region
    points: list[PricePoint] = []
    for region in regions_for(cloud):
        try:
            points.extend(reader(fetch, region))
        except (NotFoundError, UnavailableError) as exc:
            notes.append(f"{cloud} {region} skipped: {exc.message}")
    return points


def _new_row(point: PricePoint, families: set[str], today: date) -> CatalogRow | None:
    """A row for a type the catalog lacks, when the source gives its size (AWS does)."""
    if point.shape is None or point.price_per_hour is None:
        return None
    rule = taxonomy().family_rule(point.provider, point.instance_type)
    gpu = rule.gpu if rule is not None and point.shape.gpu_count else None
    family = point.instance_type.split(".", 1)[0]
    if (point.shape.gpu_count and gpu is None) or (gpu is None and family not in families):
        return None
    return CatalogRow(
        provider=point.provider,
        instance_type=point.instance_type,
        region=point.region,
        vcpus=point.shape.vcpus,
        memory_gb=point.shape.memory_gb,
        gpu=gpu,
        gpu_count=point.shape.gpu_count if gpu else 0,
        gpu_memory_gb=gpu_model(gpu).memory_gb if gpu else None,
        price_per_hour=point.price_per_hour,
        as_of=today,
        source=point.source,
    )


def _updated(row: CatalogRow, point: PricePoint, today: date) -> CatalogRow:
    price = point.price_per_hour if point.price_per_hour is not None else row.price_per_hour
    spot = point.spot_price_per_hour
    if spot is not None and spot >= price:
        spot = None  # a spot price at or above on-demand is not a spot price
    return row.model_copy(
        update={
            "price_per_hour": price,
            "spot_price_per_hour": spot if spot is not None else row.spot_price_per_hour,
            "as_of": today,
            "source": point.source,
            "flags": (),
        }
    )


def _merge(
    rows: Sequence[CatalogRow], points: Iterable[PricePoint], today: date
) -> tuple[dict[_Key, CatalogRow], int]:
    merged: dict[_Key, CatalogRow] = {(r.provider, r.instance_type, r.region): r for r in rows}
    families = {r.instance_type.split(".", 1)[0] for r in rows if r.provider == "aws"}
    updated = 0
    for point in points:
        key = (point.provider, point.instance_type, point.region)
        if key in merged:
            merged[key] = _updated(merged[key], point, today)
            updated += 1
        elif (row := _new_row(point, families, today)) is not None:
            merged[key] = row
            updated += 1
    return merged, updated


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else repr(value)


def _csv(rows: Iterable[CatalogRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in sorted(rows, key=lambda r: (r.provider, r.instance_type, r.region)):
        writer.writerow(
            [
                r.provider,
                r.instance_type,
                r.region,
                _number(r.vcpus),
                _number(r.memory_gb),
                r.gpu or "",
                r.gpu_count,
                "" if r.gpu_memory_gb is None else _number(r.gpu_memory_gb),
                repr(r.price_per_hour),
                "" if r.spot_price_per_hour is None else repr(r.spot_price_per_hour),
                r.as_of.isoformat(),
                r.source,
                ";".join(r.flags),
            ]
        )
    return out.getvalue()


def catalog_changes(
    before: Iterable[CatalogRow], after: Iterable[CatalogRow], *, threshold: float = MOVE_THRESHOLD
) -> list[CatalogChange]:
    """New rows, and on-demand price moves above ``threshold``, from ``before`` to ``after``."""
    old = {(r.provider, r.instance_type, r.region): r for r in before}
    changes = []
    for row in after:
        was = old.get((row.provider, row.instance_type, row.region))
        if was is not None and not (
            was.price_per_hour and abs(row.price_per_hour / was.price_per_hour - 1) > threshold
        ):
            continue
        changes.append(
            CatalogChange(
                kind="new" if was is None else "price",
                provider=row.provider,
                instance_type=row.instance_type,
                region=row.region,
                old=None if was is None else was.price_per_hour,
                new=row.price_per_hour,
            )
        )
    return sorted(changes, key=lambda c: (c.kind, c.provider, c.instance_type, c.region))


def update_catalog(
    *,
    clouds: Sequence[str] = CATALOG_PROVIDERS,
    fetch: Fetch,
    gcp_key: str | None = None,
    today: date | None = None,
) -> UpdateResult:
    """Read the price sources of ``clouds``, write the user's catalog, lint it.

    Args:
        clouds: ``aws``, ``azure``, ``gcp``.
        fetch: How responses are read (:func:`~.price_sources.models.network_fetch`, or
            :func:`~.price_sources.models.directory_fetch` for recorded ones).
        gcp_key: The API key the GCP Cloud Billing Catalog API needs.
        today: The ``as_of`` of updated rows (default: today).

    Raises:
        InvalidArgumentError: an unknown cloud, or GCP without a key.
        FailedPreconditionError: the result does not lint clean (nothing is written), or no
            source answered.
    """
    unknown = sorted(set(clouds) - set(CATALOG_PROVIDERS))
    if unknown:
        raise InvalidArgumentError(f"unknown cloud {unknown[0]!r}; one of aws, azure, gcp")
    today = today or date.today()
    rows = catalog_rows()
    notes: list[str] = []
    points = [p for cloud in clouds for p in _collect(cloud, fetch, gcp_key, rows, notes)]
    if not points:
        raise FailedPreconditionError("no price source answered: " + "; ".join(notes or ["-"]))
    merged, updated = _merge(rows, points, today)
    path = user_catalog_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.new")
    draft.write_text(_csv(merged.values()), encoding="utf-8")
    problems = lint_catalog(draft)
    if problems:
        draft.unlink()
        shown = "; ".join(problems[:3])
        raise FailedPreconditionError(
            f"the updated catalog has {len(problems)} lint problems, so it was not written: {shown}"
        )
    draft.replace(path)
    shipped = _shipped_rows()
    return UpdateResult(
        path=path,
        rows=len(merged),
        updated=updated,
        changes=tuple(catalog_changes(shipped, merged.values())),
        notes=tuple(notes),
    )


def _shipped_rows() -> list[CatalogRow]:
    return [row_from_csv(raw) for raw in csv.DictReader(io.StringIO(shipped_text()))]


def changes_by_type(changes: Iterable[CatalogChange]) -> Mapping[tuple[str, str], list[str]]:
    """New types, each with the regions it was added in (for the summary)."""
    found: dict[tuple[str, str], list[str]] = {}
    for change in changes:
        if change.kind == "new":
            found.setdefault((change.provider, change.instance_type), []).append(change.region)
    return found

"""The shipped instance catalog as data: its columns, its rows (read once) and its regions.

The catalog is ``data/catalog.csv``, dated and sourced row by row, built by
``scripts/build_catalog.py``. :mod:`portacloud.compute.catalog` matches requests against it and
:mod:`portacloud.compute.catalog_lint` checks it; both read it through this module.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping
from datetime import date
from importlib import resources as importlib_resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from portacloud.compute.models import Offer
from portacloud.errors import InternalError, InvalidArgumentError

__all__ = [
    "CATALOG_PROVIDERS",
    "CSV_COLUMNS",
    "KNOWN_FLAGS",
    "LOCAL_PROVIDER",
    "CatalogRow",
    "catalog_origin",
    "catalog_region",
    "catalog_rows",
    "regions_for",
    "user_catalog_path",
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


class CatalogRow(BaseModel):
    """One instance type in one region, as the shipped catalog lists it.

    The fields are those of :class:`~portacloud.compute.models.Offer` (``provider`` is one of
    :data:`CATALOG_PROVIDERS`), checked on reading: names not empty, sizes positive, prices
    not negative. ``flags`` vouch for prices the linter would otherwise refuse
    (:data:`KNOWN_FLAGS`).
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


def user_catalog_path() -> Path:
    """Where ``portacloud catalog update`` writes the user's catalog; when the file exists it
    is read instead of the shipped one."""
    from portacloud.home import portacloud_home

    return portacloud_home() / "catalog" / "catalog.csv"


def catalog_origin() -> Path | None:
    """The user's catalog when it is the one in use, ``None`` for the shipped one."""
    path = user_catalog_path()
    return path if path.is_file() else None


def shipped_text() -> str:
    """The text of the shipped ``data/catalog.csv``."""
    data = importlib_resources.files("portacloud.compute").joinpath("data")
    return data.joinpath("catalog.csv").read_text("utf-8")


def cell(raw: Mapping[str, str | None], column: str) -> str:
    """One cell of a CSV row, stripped (empty when missing)."""
    return (raw.get(column) or "").strip()


def row_from_csv(raw: Mapping[str, str | None]) -> CatalogRow:
    """One catalog row from its CSV cells (pydantic's ValidationError when malformed)."""

    def optional(column: str) -> str | None:
        return cell(raw, column) or None

    return CatalogRow.model_validate(
        {
            "provider": cell(raw, "provider"),
            "instance_type": cell(raw, "instance_type"),
            "region": cell(raw, "region"),
            "vcpus": cell(raw, "vcpus"),
            "memory_gb": cell(raw, "memory_gb"),
            "gpu": optional("gpu"),
            "gpu_count": cell(raw, "gpu_count") or "0",
            "gpu_memory_gb": optional("gpu_memory_gb"),
            "price_per_hour": cell(raw, "price_per_hour"),
            "spot_price_per_hour": optional("spot_price_per_hour"),
            "as_of": cell(raw, "as_of"),
            "source": cell(raw, "source"),
            "flags": tuple(f for f in cell(raw, "flags").split(";") if f),
        }
    )


def _origin_key() -> tuple[str, int]:
    """Which catalog file is in use, and its version: rows are re-read when it changes."""
    path = user_catalog_path()
    try:
        return (str(path), path.stat().st_mtime_ns)
    except OSError:
        return ("", 0)


def catalog_rows() -> tuple[CatalogRow, ...]:
    """Every row of the catalog in use (the user's, else the shipped one), read once.

    Raises:
        InternalError: the file is malformed (``portacloud catalog lint`` says where).
    """
    return _rows(_origin_key())


@functools.cache
def _rows(origin: tuple[str, int]) -> tuple[CatalogRow, ...]:
    path = origin[0]
    name = path or "shipped catalog"
    try:
        text = Path(path).read_text("utf-8") if path else shipped_text()
    except OSError as exc:
        raise InternalError(f"cannot read the catalog {name}: {exc}") from None
    rows = []
    reader = csv.DictReader(io.StringIO(text))
    for raw in reader:
        try:
            rows.append(row_from_csv(raw))
        except ValidationError as exc:
            raise InternalError(
                f"{name} line {reader.line_num} is malformed ({exc.error_count()} "
                f"problems); run 'portacloud catalog lint {path}'"
            ) from None
    return tuple(rows)


def _regions() -> dict[str, tuple[str, ...]]:
    return _regions_of(_origin_key())


@functools.cache
def _regions_of(origin: tuple[str, int]) -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = {}
    for row in _rows(origin):
        found.setdefault(row.provider, set()).add(row.region)
    return {provider: tuple(sorted(regions)) for provider, regions in found.items()}


def check_provider(provider: str) -> str:
    """``provider`` normalised, or INVALID_ARGUMENT naming the providers the catalog knows."""
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
    name = check_provider(provider)
    if name == LOCAL_PROVIDER:
        return [LOCAL_PROVIDER]
    return list(_regions().get(name, ()))


def catalog_region(provider: str, region: str) -> str:
    """The catalog region of ``region``, which may be a zone (``us-east-1a``, ``us-central1-a``).

    Prices are per region, so a driver opened on a zone gets its region's rows. A region the
    catalog does not know comes back lower-cased and otherwise unchanged.
    """
    provider = check_provider(provider)
    wanted = region.strip().lower()
    known = _regions().get(provider, ())
    if wanted in known:
        return wanted
    for candidate in (re.sub(r"-[a-z]$", "", wanted), re.sub(r"(?<=\d)[a-z]$", "", wanted)):
        if candidate in known:
            return candidate
    return wanted

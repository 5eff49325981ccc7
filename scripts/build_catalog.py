"""(Re)build portacloud's shipped instance catalog: sdk/src/portacloud/compute/data/catalog.csv.

Run it from the repository root with libcloud available only for the build (the shipped
catalog never needs libcloud at run time):

    uv run --no-sync --with apache-libcloud==3.9.1 python scripts/build_catalog.py

Where every number comes from, per provider:

* AWS: apache-libcloud 3.9.1. Shapes (vCPUs, memory, GPU count, GPU memory) from
  ``libcloud/compute/constants/ec2_instance_types.py``; Linux on-demand prices per region from
  ``libcloud/data/pricing.json`` (``compute.ec2_linux``, file stamped 2025-03-02). libcloud
  names no GPU model, so the model comes from the instance family rules in ``gpus.json`` and
  libcloud's ``gpuMemory`` is cross-checked against the taxonomy (a mismatch stops the build).
  libcloud writes 0.0 where its scraper found no price (apache/libcloud#1534); those rows are
  dropped, never shipped as free. libcloud has no EC2 spot prices, so AWS spot is empty.
* GCP general purpose (n2, e2): libcloud's ``compute.gce_instances`` per-vCPU and per-GiB
  SKU prices, summed over the machine type's shape (standard 4 GiB/vCPU, highmem 8,
  highcpu 1; the sizes listed below all follow that rule). Spot is the same sum over the
  ``preemptible`` SKUs, which is what GCP bills Spot VMs on.
* GCP GPU (a2, a3): rows of skypilot-catalog ``catalogs/v7/gcp/vms.csv`` at commit 017e250,
  and for the H100 Mega and H200 types (a3-megagpu-8g, a3-ultragpu-8g) of
  ``catalogs/v8/gcp/vms.csv`` at commit 006059e0, transcribed verbatim in catalog_sources.py.
  Those files price the host VM and the GPUs as separate rows; a catalog row is their sum
  (on-demand and spot alike; spot stays empty if either is).
* AWS P-family GPU types (p4d, p4de, p5, p5en, p6-b200): rows of skypilot-catalog
  ``catalogs/v8/aws/vms.csv`` at commit 00148f2a, transcribed verbatim (on-demand only). They
  carry AWS's June 2025 price cut, which libcloud's 2025-03-02 prices predate, so libcloud's
  rows of these types are dropped.
* Azure: rows of skypilot-catalog ``catalogs/v6/azure/vms.csv`` at commit 098741e,
  transcribed below verbatim (on-demand and spot), plus libcloud's ``compute.azure_linux``
  on-demand prices for the same sizes in regions that file does not cover.

Rows of those files that are known to be wrong are left out on purpose, each with its reason
(see ``GCP_LEFT_OUT`` and ``AZURE_LEFT_OUT``); cells known to be wrong are corrected with a
note in the row's source (``AZURE_COUNT_FIXED``, ``AZURE_SPOT_FILLED``, ``AZURE_GPU_RENAMED``).
The shipped catalog passes ``portacloud catalog lint``, which this script runs before writing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from catalog_sources import (  # a sibling module: scripts/ is on sys.path when run
    AWS_CPU_FAMILIES,
    AWS_GPU_FAMILIES,
    AWS_REGIONS,
    AWS_SKYPILOT_ROWS,
    AWS_TRANSCRIBED,
    AZURE_COUNT_FIXED,
    AZURE_GPU_RENAMED,
    AZURE_LEFT_OUT,
    AZURE_LIBCLOUD_REGIONS,
    AZURE_LIBCLOUD_SIZES,
    AZURE_ROWS,
    AZURE_SPOT_FILLED,
    GCP_GPU_ROW_NAMES,
    GCP_GPU_ROWS,
    GCP_HOST_ROWS,
    GCP_LEFT_OUT,
    GCP_REGIONS,
    GCP_SHAPES,
    GCP_V8_GPU_ROWS,
    GCP_V8_HOST_ROWS,
    GCP_V8_TRANSCRIBED,
    SKYPILOT_AWS,
    SKYPILOT_AZURE,
    SKYPILOT_GCP,
    SKYPILOT_GCP_V8,
    TRANSCRIBED,
)

from portacloud.compute import catalog as catalog_module
from portacloud.compute.gpus import taxonomy

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "sdk" / "src" / "portacloud" / "compute" / "data" / "catalog.csv"
LIBCLOUD_VERSION = "3.9.1"


# The day the skypilot-catalog rows below were read; their own snapshot dates are unknown.
@dataclass(frozen=True)
class Row:
    """One catalog row, as it is written."""

    provider: str
    instance_type: str
    region: str
    vcpus: float
    memory_gb: float
    gpu: str | None
    gpu_count: int
    gpu_memory_gb: float | None
    price_per_hour: float
    spot_price_per_hour: float | None
    as_of: date
    source: str
    flags: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a row unique."""
        return (self.provider, self.instance_type, self.region)


class BuildError(Exception):
    """The sources disagree with each other or with the taxonomy."""


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _gib(value: str) -> float:
    """``'1,152 GiB'`` -> 1152.0"""
    found = re.match(r"^\s*([\d.,]+)\s*GiB\s*$", value)
    if found is None:
        raise BuildError(f"memory {value!r} is not in GiB")
    return float(found.group(1).replace(",", ""))


def _gpu_model_memory(gpu: str) -> float:
    for model in taxonomy().models:
        if model.name == gpu:
            return model.memory_gb
    raise BuildError(f"GPU {gpu!r} is not in gpus.json")


def _check_libcloud_gpu_memory(instance_type: str, gpu: str, count: int, text: str) -> None:
    """libcloud's gpuMemory is sometimes per GPU, sometimes per instance: accept either."""
    found = re.match(r"^\s*([\d.]+)\s*GiB?|^\s*([\d.]+)\s*GB", text)
    if found is None:
        return
    total = float(found.group(1) or found.group(2))
    per_gpu = _gpu_model_memory(gpu)
    if abs(total - per_gpu * count) > 2 * count and abs(total - per_gpu) > 2:
        raise BuildError(
            f"{instance_type}: libcloud says {text!r} of GPU memory for {count}x {gpu}, "
            f"the taxonomy says {per_gpu:g} GB each"
        )


def aws_rows(libcloud_root: Path, version: str, updated: date) -> Iterator[Row]:
    """EC2 rows from libcloud's instance data and pricing file."""
    from libcloud.compute.constants.ec2_instance_types import INSTANCE_TYPES

    pricing = json.loads((libcloud_root / "data" / "pricing.json").read_text())["compute"]
    prices: dict[str, dict[str, float]] = pricing["ec2_linux"]
    tax = taxonomy()
    dropped_zero = 0
    source = (
        f"apache-libcloud {version} data/pricing.json compute.ec2_linux (Linux on-demand) + "
        "compute/constants/ec2_instance_types.py; GPU model by instance family (gpus.json); "
        "spot unknown"
    )
    shapes = cast("dict[str, dict[str, Any]]", INSTANCE_TYPES)
    for instance_type, spec in sorted(shapes.items()):
        family = instance_type.split(".", 1)[0]
        if family not in AWS_GPU_FAMILIES + AWS_CPU_FAMILIES or instance_type.endswith(".metal"):
            continue
        extra = spec["extra"]
        count = int(extra.get("gpu") or 0)
        gpu: str | None = None
        gpu_memory: float | None = None
        if family in AWS_GPU_FAMILIES:
            rule = tax.family_rule("aws", instance_type)
            if rule is None or count == 0:
                raise BuildError(f"{instance_type}: no GPU family rule or no GPU count")
            gpu, gpu_memory = rule.gpu, _gpu_model_memory(rule.gpu)
            _check_libcloud_gpu_memory(instance_type, gpu, count, str(extra.get("gpuMemory")))
        for region in AWS_REGIONS:
            price = prices.get(instance_type, {}).get(region)
            if price is None:
                continue
            if price <= 0:
                dropped_zero += 1
                continue
            yield Row(
                provider="aws",
                instance_type=instance_type,
                region=region,
                vcpus=float(extra["vcpu"]),
                memory_gb=_gib(extra["memory"]),
                gpu=gpu,
                gpu_count=count,
                gpu_memory_gb=gpu_memory,
                price_per_hour=float(price),
                spot_price_per_hour=None,
                as_of=updated,
                source=source,
            )
    print(f"aws: dropped {dropped_zero} libcloud prices of 0.0 (no price found)", file=sys.stderr)


def gcp_cpu_rows(libcloud_root: Path, version: str, updated: date) -> Iterator[Row]:
    """n2/e2 rows: libcloud's per-vCPU and per-GiB SKU prices over each machine shape."""
    pricing = json.loads((libcloud_root / "data" / "pricing.json").read_text())["compute"]
    families = pricing["gce_instances"]
    for prefix, (family, gib_per_vcpu, sizes) in GCP_SHAPES.items():
        cpu, ram = families[family]["cpu"], families[family]["ram"]
        source = (
            f"apache-libcloud {version} data/pricing.json compute.gce_instances.{family}: "
            f"vCPUs x cpu + GiB x ram SKU $/h (spot: preemptible SKUs); shape {gib_per_vcpu} "
            "GiB/vCPU per the machine-type name"
        )
        for vcpus in sizes:
            memory = float(vcpus * gib_per_vcpu)
            for region in GCP_REGIONS:
                on_demand = _sku_sum(
                    cpu=cpu, ram=ram, kind="on_demand", region=region, vcpus=vcpus, memory=memory
                )
                if on_demand is None:
                    continue
                yield Row(
                    provider="gcp",
                    instance_type=f"{prefix}-{vcpus}",
                    region=region,
                    vcpus=float(vcpus),
                    memory_gb=memory,
                    gpu=None,
                    gpu_count=0,
                    gpu_memory_gb=None,
                    price_per_hour=on_demand,
                    spot_price_per_hour=_sku_sum(
                        cpu=cpu,
                        ram=ram,
                        kind="preemptible",
                        region=region,
                        vcpus=vcpus,
                        memory=memory,
                    ),
                    as_of=updated,
                    source=source,
                )


def _sku_sum(
    *,
    cpu: dict[str, dict[str, dict[str, float]]],
    ram: dict[str, dict[str, dict[str, float]]],
    kind: str,
    region: str,
    vcpus: int,
    memory: float,
) -> float | None:
    core = cpu.get(kind, {}).get(region, {}).get("price")
    gib = ram.get(kind, {}).get(region, {}).get("price")
    if not core or not gib:
        return None
    return round(vcpus * core + memory * gib, 6)


def gcp_gpu_rows(
    host_rows: str = GCP_HOST_ROWS,
    gpu_rows: str = GCP_GPU_ROWS,
    source: str = SKYPILOT_GCP,
    as_of: date = TRANSCRIBED,
) -> Iterator[Row]:
    """a2/a3 rows: the host-VM row plus the GPU row of the same region and count."""
    gpus = {
        (g["AcceleratorName"], int(g["AcceleratorCount"]), g["Region"]): g
        for g in _read_csv(gpu_rows)
    }
    tax = taxonomy()
    for host in _read_csv(host_rows):
        instance_type, region = host["InstanceType"], host["Region"]
        rule = tax.family_rule("gcp", instance_type)
        found = rule.match(instance_type) if rule else None
        if rule is None or found is None:
            raise BuildError(f"{instance_type}: no GCP family rule in gpus.json")
        count = int(found.group("count"))
        name = GCP_GPU_ROW_NAMES.get(instance_type, rule.gpu)
        gpu_row = gpus.get((name, count, region))
        if gpu_row is None:
            raise BuildError(f"{instance_type} {region}: no {name}x{count} GPU row")
        price = round(float(host["Price"]) + float(gpu_row["Price"]), 5)
        spot = None
        if host["SpotPrice"] and gpu_row["SpotPrice"]:
            spot = round(float(host["SpotPrice"]) + float(gpu_row["SpotPrice"]), 5)
        yield Row(
            provider="gcp",
            instance_type=instance_type,
            region=region,
            vcpus=float(host["vCPUs"]),
            memory_gb=float(host["MemoryGiB"]),
            gpu=rule.gpu,
            gpu_count=count,
            gpu_memory_gb=_gpu_model_memory(rule.gpu),
            price_per_hour=price,
            spot_price_per_hour=spot,
            as_of=as_of,
            source=(
                f"{source}: host row {instance_type} {host['Price']} "
                f"(spot {host['SpotPrice'] or '-'}) + GPU row {name}x{count} "
                f"{gpu_row['Price']} (spot {gpu_row['SpotPrice'] or '-'})"
            ),
        )


def aws_skypilot_rows() -> Iterator[Row]:
    """The transcribed skypilot-catalog AWS rows of GPU types libcloud does not know."""
    for raw in _read_csv(AWS_SKYPILOT_ROWS):
        gpu = raw["AcceleratorName"]
        yield Row(
            provider="aws",
            instance_type=raw["InstanceType"],
            region=raw["Region"],
            vcpus=float(raw["vCPUs"]),
            memory_gb=float(raw["MemoryGiB"]),
            gpu=gpu,
            gpu_count=int(float(raw["AcceleratorCount"])),
            gpu_memory_gb=_gpu_model_memory(gpu),
            price_per_hour=float(raw["Price"]),
            spot_price_per_hour=None,
            as_of=AWS_TRANSCRIBED,
            source=f"{SKYPILOT_AWS} row (Price); spot is per zone there, not transcribed",
        )


def azure_skypilot_rows() -> Iterator[Row]:
    """The transcribed skypilot-catalog Azure rows, minus the known-bad ones."""
    for raw in _read_csv(AZURE_ROWS):
        instance_type = raw["InstanceType"]
        if instance_type in AZURE_LEFT_OUT:
            continue
        notes = []
        count = int(raw["AcceleratorCount"] or 0)
        if instance_type in AZURE_COUNT_FIXED:
            count = AZURE_COUNT_FIXED[instance_type]
            notes.append(f"AcceleratorCount {raw['AcceleratorCount']} read as {count} (Azure docs)")
        gpu = raw["AcceleratorName"] or None
        if instance_type in AZURE_GPU_RENAMED:
            gpu = AZURE_GPU_RENAMED[instance_type]
            notes.append(f"GPU {raw['AcceleratorName']} read as {gpu} (Azure: H100 NVL 94 GB)")
        spot: float | None = float(raw["SpotPrice"]) if raw["SpotPrice"] else None
        if instance_type in AZURE_SPOT_FILLED:
            spot = None
            notes.append("spot dropped: the file fills it with the on-demand price")
        yield Row(
            provider="azure",
            instance_type=instance_type,
            region=raw["Region"],
            vcpus=float(raw["vCPUs"]),
            memory_gb=float(raw["MemoryGiB"]),
            gpu=gpu,
            gpu_count=count,
            gpu_memory_gb=_gpu_model_memory(gpu) if gpu else None,
            price_per_hour=float(raw["Price"]),
            spot_price_per_hour=spot,
            as_of=TRANSCRIBED,
            source="; ".join([f"{SKYPILOT_AZURE} row (Price, SpotPrice)", *notes]),
        )


def azure_libcloud_rows(
    libcloud_root: Path, version: str, updated: date, covered: set[tuple[str, str, str]]
) -> Iterator[Row]:
    """libcloud azure_linux prices for sizes whose shape is known, where no row exists yet."""
    pricing = json.loads((libcloud_root / "data" / "pricing.json").read_text())["compute"]
    prices: dict[str, dict[str, float]] = pricing["azure_linux"]
    tax = taxonomy()
    for instance_type, (vcpus, memory) in AZURE_LIBCLOUD_SIZES.items():
        key = instance_type.lower().replace("_", "")
        rule = tax.family_rule("azure", instance_type)
        shape = tax.known_shape("azure", instance_type)
        gpu = rule.gpu if rule else None
        count = shape.count if shape else 0
        for region in AZURE_LIBCLOUD_REGIONS:
            price = prices.get(key, {}).get(region)
            if not price or ("azure", instance_type, region) in covered:
                continue
            yield Row(
                provider="azure",
                instance_type=instance_type,
                region=region,
                vcpus=float(vcpus),
                memory_gb=float(memory),
                gpu=gpu,
                gpu_count=count if gpu else 0,
                gpu_memory_gb=_gpu_model_memory(gpu) if gpu else None,
                price_per_hour=float(price),
                spot_price_per_hour=None,
                as_of=updated,
                source=(
                    f"apache-libcloud {version} data/pricing.json compute.azure_linux.{key} "
                    f"(on-demand); shape from {SKYPILOT_AZURE}; spot unknown"
                ),
            )


def write(rows: Iterable[Row], path: Path) -> int:
    """Write rows sorted by key; refuse duplicates. Returns the row count."""
    ordered = sorted(rows, key=lambda r: r.key)
    seen: set[tuple[str, str, str]] = set()
    for row in ordered:
        if row.key in seen:
            raise BuildError(f"duplicate row {row.key}")
        seen.add(row.key)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(catalog_module.CSV_COLUMNS)
        for r in ordered:
            writer.writerow(
                [
                    r.provider,
                    r.instance_type,
                    r.region,
                    f"{r.vcpus:g}",
                    f"{r.memory_gb:g}",
                    r.gpu or "",
                    r.gpu_count,
                    "" if r.gpu_memory_gb is None else f"{r.gpu_memory_gb:g}",
                    repr(r.price_per_hour),
                    "" if r.spot_price_per_hour is None else repr(r.spot_price_per_hour),
                    r.as_of.isoformat(),
                    r.source,
                    r.flags,
                ]
            )
    return len(ordered)


def main() -> int:
    """Build, lint and write the catalog; non-zero exit when the sources disagree."""
    try:
        import libcloud
    except ImportError:
        print(
            "libcloud is needed to build the catalog: "
            "uv run --no-sync --with apache-libcloud==3.9.1 python scripts/build_catalog.py",
            file=sys.stderr,
        )
        return 2
    version = str(libcloud.__version__)
    if version != LIBCLOUD_VERSION:
        print(f"warning: libcloud {version}, the catalog was built from {LIBCLOUD_VERSION}")
    root = Path(libcloud.__file__).resolve().parent
    stamp = json.loads((root / "data" / "pricing.json").read_text())["updated"]
    updated = datetime.fromtimestamp(int(stamp), tz=UTC).date()
    try:
        refreshed = list(aws_skypilot_rows())
        # The transcribed types replace libcloud's older prices of the same types entirely.
        replaced = {r.instance_type for r in refreshed}
        rows = [
            *(r for r in aws_rows(root, version, updated) if r.instance_type not in replaced),
            *refreshed,
            *gcp_cpu_rows(root, version, updated),
            *gcp_gpu_rows(),
            *gcp_gpu_rows(GCP_V8_HOST_ROWS, GCP_V8_GPU_ROWS, SKYPILOT_GCP_V8, GCP_V8_TRANSCRIBED),
            *azure_skypilot_rows(),
        ]
        covered = {r.key for r in rows}
        rows.extend(azure_libcloud_rows(root, version, updated, covered))
        tmp = OUTPUT.with_suffix(".csv.new")
        count = write(rows, tmp)
    except BuildError as exc:
        print(f"build_catalog: {exc}", file=sys.stderr)
        return 1
    problems = catalog_module.lint_catalog(tmp)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"build_catalog: {len(problems)} lint problems; {OUTPUT} left as it was")
        tmp.unlink()
        return 1
    tmp.replace(OUTPUT)
    per_provider = {p: sum(1 for r in rows if r.provider == p) for p in ("aws", "gcp", "azure")}
    print(f"wrote {count} rows to {OUTPUT.relative_to(ROOT)}: {per_provider}")
    for what, why in {**GCP_LEFT_OUT, **AZURE_LEFT_OUT}.items():
        print(f"left out {what}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shipped catalog: its data, the linter that guards it, and matching offers."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from portacloud.compute import catalog_data
from portacloud.compute.catalog import (
    CSV_COLUMNS,
    catalog_rows,
    gpu_counts,
    lint_catalog,
    local_offer,
    offers,
    parse_resources,
    regions_for,
)
from portacloud.compute.compute import Compute
from portacloud.compute.models import ComputeCapabilities, Offer
from portacloud.errors import InvalidArgumentError
from portacloud.resources import Resources

GOOD = {
    "provider": "aws",
    "instance_type": "p4d.24xlarge",
    "region": "us-west-2",
    "vcpus": "96",
    "memory_gb": "1152",
    "gpu": "A100",
    "gpu_count": "8",
    "gpu_memory_gb": "40",
    "price_per_hour": "32.7726",
    "spot_price_per_hour": "",
    "as_of": "2025-03-02",
    "source": "test",
    "flags": "",
}
CPU = {
    **GOOD,
    "instance_type": "m6i.large",
    "vcpus": "2",
    "memory_gb": "8",
    "gpu": "",
    "gpu_count": "0",
    "gpu_memory_gb": "",
    "price_per_hour": "0.096",
}


def write_catalog(path: Path, *rows: dict[str, str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def lint_rows(tmp_path: Path, *rows: dict[str, str]) -> list[str]:
    return lint_catalog(write_catalog(tmp_path / "catalog.csv", *rows))


# ---------------------------------------------------------------- the shipped data


def test_the_shipped_catalog_lints_clean() -> None:
    assert lint_catalog() == []


def test_the_shipped_catalog_covers_three_clouds_gpu_and_cpu_families() -> None:
    rows = catalog_rows()
    by_provider = {p: [r for r in rows if r.provider == p] for p in ("aws", "gcp", "azure")}
    for provider, provider_rows in by_provider.items():
        assert any(r.gpu_count for r in provider_rows), provider
        assert any(not r.gpu_count for r in provider_rows), provider
    types = {r.instance_type for r in rows}
    assert {"p4d.24xlarge", "g5.xlarge", "m6i.large", "c6i.large", "r6i.large"} <= types
    assert {"a2-highgpu-8g", "n2-standard-8", "e2-standard-8"} <= types
    assert {"Standard_ND96asr_v4", "Standard_D8s_v5", "Standard_E8s_v5"} <= types
    assert all(r.as_of <= date.today() and r.source for r in rows)
    assert all(r.provider != "local" for r in rows)


def test_the_known_bad_source_rows_are_not_shipped() -> None:
    types = {(r.provider, r.instance_type) for r in catalog_rows()}
    assert ("azure", "Standard_ND96isr_H100_v5") in types
    # 12 GPUs and spot == on-demand in skypilot-catalog v6: shipped corrected, never as read.
    nd_h100 = [r for r in catalog_rows() if r.instance_type == "Standard_ND96isr_H100_v5"]
    assert nd_h100
    assert all((r.gpu, r.gpu_count, r.gpu_memory_gb) == ("H100", 8, 80) for r in nd_h100)
    assert all(r.spot_price_per_hour is None for r in nd_h100)
    assert all("AcceleratorCount 12 read as 8" in r.source for r in nd_h100)
    h100_nvl = [r for r in catalog_rows() if r.instance_type == "Standard_NC40ads_H100_v5"]
    assert h100_nvl
    assert all(r.gpu == "H100-NVL" and r.spot_price_per_hour is None for r in h100_nvl)


def test_catalog_import_needs_no_vendor_sdk() -> None:
    code = (
        "import sys\n"
        "from portacloud.compute.catalog import offers\n"
        "from portacloud.resources import Resources\n"
        "assert offers(Resources(gpus='A100:8'))\n"
        "vendors = ('boto3', 'botocore', 'google.cloud', 'azure', 'libcloud', 'ray')\n"
        "loaded = [m for m in sys.modules if m.startswith(vendors)]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- the linter


def test_a_clean_file_has_no_problems(tmp_path: Path) -> None:
    assert lint_rows(tmp_path, GOOD, CPU) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"spot_price_per_hour": "40"}, "spot price 40 is above the on-demand price 32.7726"),
        ({"spot_price_per_hour": "32.7726"}, "equals the on-demand price"),
        ({"gpu_count": "4"}, "has 8x A100 (provider docs), the row says 4x A100"),
        ({"price_per_hour": "700.0"}, "sentinel"),
        ({"price_per_hour": "0"}, "placeholder"),
        ({"price_per_hour": "-1"}, "negative"),
        ({"price_per_hour": "1200"}, "above any instance"),
        ({"price_per_hour": ""}, "price_per_hour is missing"),
        ({"price_per_hour": "n/a"}, "is not a number"),
        ({"source": ""}, "source is missing"),
        ({"as_of": ""}, "as_of is missing"),
        ({"as_of": "02/03/2025"}, "not a YYYY-MM-DD date"),
        ({"as_of": (date.today() + timedelta(days=2)).isoformat()}, "in the future"),
        ({"gpu": "nvidia-tesla-a100"}, "not canonical; write 'A100'"),
        ({"gpu": "A1000"}, "unknown GPU 'A1000'; did you mean"),
        ({"gpu_memory_gb": "80"}, "GPU memory 80 GB per GPU, but A100 has 40 GB"),
        ({"gpu_memory_gb": ""}, "gpu_memory_gb is missing"),
        ({"gpu": "A100-80GB", "gpu_memory_gb": "80"}, "p4d.24xlarge carries A100, not A100-80GB"),
        ({"flags": "trust_me"}, "unknown flag 'trust_me'"),
        ({"provider": "local"}, "never ship it"),
        ({"provider": "ibm"}, "unknown provider 'ibm'"),
        ({"vcpus": "0"}, "vcpus 0 must be positive"),
        ({"gpu_count": "two"}, "not a whole number"),
    ],
)
def test_each_planted_problem_is_caught(
    tmp_path: Path, changes: dict[str, str], expected: str
) -> None:
    problems = lint_rows(tmp_path, CPU, {**GOOD, **changes})
    assert problems, changes
    assert all(":3: " in p for p in problems), problems  # only the planted line (line 3)
    assert any(expected in p for p in problems), problems


def test_a_duplicate_row_is_caught_with_both_lines(tmp_path: Path) -> None:
    problems = lint_rows(tmp_path, GOOD, CPU, {**GOOD, "price_per_hour": "30"})
    assert problems == [
        f"{tmp_path / 'catalog.csv'}:4: aws p4d.24xlarge us-west-2: duplicate of line 2"
    ]


def test_the_research_notes_catalog_findings_are_caught(tmp_path: Path) -> None:
    # compute-anchors.md §3: rows as skypilot-catalog has them.
    azure_h100 = {
        **GOOD,
        "provider": "azure",
        "instance_type": "Standard_ND96isr_H100_v5",
        "region": "eastus",
        "gpu": "H100",
        "gpu_count": "12",
        "gpu_memory_gb": "80",
        "price_per_hour": "98.32",
        "spot_price_per_hour": "98.32",
    }
    p4de_as_a100 = {**GOOD, "instance_type": "p4de.24xlarge", "price_per_hour": "40.96575"}
    no_accelerator = {
        **CPU,
        "provider": "azure",
        "instance_type": "Standard_NC8ads_A10_v4",
        "region": "westus3",
    }
    tpu_sentinel = {**CPU, "provider": "gcp", "instance_type": "n2-standard-2",
                    "region": "us-central2", "price_per_hour": "700.0",
                    "spot_price_per_hour": "700.0"}  # fmt: skip
    problems = lint_rows(tmp_path, azure_h100, p4de_as_a100, no_accelerator, tpu_sentinel)
    text = "\n".join(problems)
    assert "12x H100 is not a shape that exists" in text
    assert "has 8x H100 (provider docs), the row says 12x H100" in text
    assert "spot price equals the on-demand price 98.32" in text
    assert "p4de.24xlarge carries A100-80GB, not A100" in text
    assert "Standard_NC8ads_A10_v4 is a A10 type but the row has no GPU" in text
    assert "on-demand price 700 is a sentinel" in text


def test_flags_vouch_for_prices_the_linter_would_refuse(tmp_path: Path) -> None:
    free = {**CPU, "price_per_hour": "0", "flags": "zero_price_ok"}
    dear = {**GOOD, "region": "us-east-1", "price_per_hour": "650", "flags": "price_checked"}
    assert lint_rows(tmp_path, free, dear) == []


def test_gcp_counts_in_the_name_must_match_the_row(tmp_path: Path) -> None:
    row = {
        **GOOD,
        "provider": "gcp",
        "instance_type": "a2-highgpu-4g",
        "region": "us-central1",
        "gpu_count": "8",
    }
    assert any("has 4 GPUs by its name, the row says 8" in p for p in lint_rows(tmp_path, row))


def test_a_gpu_type_no_family_rule_knows_is_refused(tmp_path: Path) -> None:
    row = {**GOOD, "instance_type": "x9gpu.large"}
    problems = lint_rows(tmp_path, row)
    assert any("no instance-family rule" in p for p in problems)


def test_a_wrong_header_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("provider,instance_type,region\naws,m5.large,us-east-1\n")
    problems = lint_catalog(path)
    assert len(problems) == 1
    assert "missing vcpus" in problems[0]


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    problems = lint_catalog(tmp_path / "nope.csv")
    assert len(problems) == 1
    assert "cannot read" in problems[0]


# ---------------------------------------------------------------- offers


def test_a100_8_is_offered_by_every_cloud_cheapest_first() -> None:
    found = offers(Resources(gpus="A100:8"))
    assert {o.provider for o in found} == {"aws", "gcp", "azure"}
    assert all(o.gpu == "A100" and o.gpu_count == 8 for o in found)
    prices = [o.price_per_hour for o in found]
    assert prices == sorted(prices)
    # a2-megagpu-16g has 16 A100: the count is exact, as in SkyPilot.
    assert "a2-megagpu-16g" not in {o.instance_type for o in found}
    assert all(isinstance(o, Offer) and o.source and o.as_of for o in found)


@pytest.mark.parametrize(
    ("gpus", "model"),
    [("a100-80gb:8", "A100-80GB"), ("nvidia-tesla-t4:1", "T4"), ("NVIDIA-L4:1", "L4")],
)
def test_aliases_are_accepted(gpus: str, model: str) -> None:
    found = offers(Resources(gpus=gpus))
    assert found
    assert {o.gpu for o in found} == {model}


def test_a100_does_not_match_the_80gb_part() -> None:
    types = {o.instance_type for o in offers(Resources(gpus="A100:8"))}
    assert "p4de.24xlarge" not in types
    assert "Standard_ND96amsr_A100_v4" not in types


def test_a_bare_count_matches_any_model() -> None:
    found = offers(Resources(gpus=8))
    assert {"A100", "A100-80GB", "H100", "V100"} <= {o.gpu for o in found}
    assert all(o.gpu_count == 8 for o in found)


def test_cpus_and_memory_are_minimums_and_no_gpus_means_cpu_types() -> None:
    found = offers(Resources(cpus=8, memory_gb=60))
    assert found
    assert all(o.vcpus >= 8 and o.memory_gb >= 60 and o.gpu_count == 0 for o in found)
    assert found[0].price_per_hour == min(o.price_per_hour for o in found)


def test_gpu_and_cpu_requests_combine() -> None:
    found = offers(Resources(gpus="T4:1", cpus=16))
    assert found
    assert all(o.vcpus >= 16 and o.gpu == "T4" for o in found)
    assert "g4dn.xlarge" not in {o.instance_type for o in found}


def test_spot_needs_a_spot_price_and_sorts_by_it() -> None:
    found = offers(Resources(gpus="A100:8"), spot=True)
    assert found
    assert all(o.spot_price_per_hour is not None for o in found)
    spot = [o.spot_price_per_hour for o in found]
    assert spot == sorted(spot)  # type: ignore[type-var]
    assert "aws" not in {o.provider for o in found}  # libcloud has no EC2 spot prices


def test_providers_and_region_narrow_the_search() -> None:
    found = offers(Resources(cpus=2), providers=["aws"], region="us-east-1")
    assert found
    assert {(o.provider, o.region) for o in found} == {("aws", "us-east-1")}


@pytest.mark.parametrize(
    ("provider", "zone", "region"),
    [("aws", "us-east-1a", "us-east-1"), ("gcp", "us-central1-a", "us-central1")],
)
def test_a_zone_reads_as_its_region(provider: str, zone: str, region: str) -> None:
    found = offers(Resources(cpus=2), providers=[provider], region=zone)
    assert found
    assert {o.region for o in found} == {region}


def test_a_region_without_rows_gives_nothing_and_regions_for_says_where() -> None:
    assert offers(Resources(gpus="A100:8"), providers=["aws"], region="mars-1") == []
    aws = regions_for("aws")
    assert "us-east-1" in aws
    assert aws == sorted(aws)
    assert "eastus" in regions_for("azure")
    assert regions_for("local") == ["local"]


def test_an_impossible_count_lists_the_counts_that_exist_per_provider() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        offers(Resources(gpus="A100:3"))
    message = caught.value.message
    assert "3x A100" in message
    assert "aws: 8" in message
    assert "gcp: 1, 2, 4, 8, 16" in message
    assert "azure: 8" in message


def test_an_impossible_count_is_judged_per_provider_searched() -> None:
    with pytest.raises(InvalidArgumentError, match=r"counts that exist: aws: 8$"):
        offers(Resources(gpus="A100:1"), providers=["aws"])


def test_a_model_no_searched_provider_has_says_which_it_has() -> None:
    with pytest.raises(InvalidArgumentError, match="has B200 GPUs; GPUs it has: A10"):
        offers(Resources(gpus="B200:8"), providers=["azure", "gcp"])
    assert {o.provider for o in offers(Resources(gpus="B200:8"))} == {"aws"}


def test_an_unknown_gpu_suggests() -> None:
    with pytest.raises(InvalidArgumentError, match="did you mean H100"):
        offers(Resources(gpus="H1000:8"))


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown catalog provider 'ibm'"):
        offers(Resources(cpus=1), providers=["ibm"])
    with pytest.raises(InvalidArgumentError):
        regions_for("ibm")


def test_gpu_counts_per_provider() -> None:
    counts = gpu_counts("A100")
    assert counts["aws"] == [8]
    assert 16 in counts["gcp"]
    assert gpu_counts("H100-NVL") == {"azure": [1, 2]}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"cpus": -2}, "cpus"), ({"memory_gb": 0}, "memory_gb"), ({"gpus": "A100:0"}, "gpus")],
)
def test_bad_sizes_are_invalid_argument(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"invalid resources: {field}"):
        parse_resources(**kwargs)


# ---------------------------------------------------------------- local and Compute


@pytest.fixture
def two_a100s(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [(0, "NVIDIA A100-SXM4-80GB"), (1, "NVIDIA A100-SXM4-80GB")]
    monkeypatch.setattr("portacloud.jobs.gpus.detect_gpus", lambda: devices)


@pytest.mark.usefixtures("two_a100s")
def test_local_describes_this_machine() -> None:
    here = local_offer()
    assert (here.provider, here.instance_type, here.region) == ("local", "local", "local")
    assert (here.gpu, here.gpu_count, here.gpu_memory_gb) == ("A100-80GB", 2, 80)
    assert here.price_per_hour == 0.0
    assert here.vcpus >= 1
    assert here.source == "this machine"
    assert here.as_of == date.today()


@pytest.mark.usefixtures("two_a100s")
def test_local_is_searched_only_when_named_and_holds_at_least_what_is_asked() -> None:
    assert "local" not in {o.provider for o in offers(Resources(gpus=2))}
    assert [o.provider for o in offers(Resources(gpus="a100-80gb:1"), providers=["local"])] == [
        "local"
    ]
    assert offers(Resources(gpus="H100:1"), providers=["local"]) == []
    assert offers(Resources(gpus=4), providers=["local"]) == []
    assert offers(Resources(cpus=1), providers=["local"], region="us-east-1") == []


def test_local_without_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portacloud.jobs.gpus.detect_gpus", list)
    here = local_offer()
    assert (here.gpu, here.gpu_count) == (None, 0)


def test_an_unknown_local_device_keeps_its_reported_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "portacloud.jobs.gpus.detect_gpus", lambda: [(0, "NVIDIA GeForce RTX 4090")]
    )
    assert local_offer().gpu == "NVIDIA GeForce RTX 4090"


def _compute(catalog_name: str, region: str) -> Compute:
    driver = SimpleNamespace(
        provider=catalog_name,
        region=region,
        capabilities=ComputeCapabilities(catalog=catalog_name),
    )
    return Compute(driver, url=f"{catalog_name}://{region}")


def test_compute_offers_searches_its_provider_and_region() -> None:
    found = _compute("gcp", "us-central1-b").offers(Resources(gpus="A100:8"))
    assert [(o.provider, o.instance_type, o.region) for o in found] == [
        ("gcp", "a2-highgpu-8g", "us-central1")
    ]
    assert _compute("azure", "eastus").offers(Resources(gpus="A100:8"), spot=True)[0].gpu == "A100"


def test_the_catalog_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog_data._rows.cache_clear()
    catalog_data._regions_of.cache_clear()
    calls = []
    original = catalog_data.shipped_text

    def counting() -> str:
        calls.append(1)
        return original()

    monkeypatch.setattr(catalog_data, "shipped_text", counting)
    offers(Resources(cpus=1))
    offers(Resources(gpus="A100:8"), region="us-east-1")
    regions_for("gcp")
    assert len(calls) == 1

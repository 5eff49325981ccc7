"""``portacloud offers`` and ``portacloud catalog``, driven through click as a user would."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from portacloud.cli.catalog_commands import catalog, offers_command
from portacloud.compute.catalog import CSV_COLUMNS
from portacloud.errors import InvalidArgumentError

# Wide enough that rich never folds an instance type name in the table.
WIDE = {"COLUMNS": "200"}


def offers_cli(*args: str) -> Result:
    return CliRunner(env=WIDE).invoke(offers_command, list(args))


def catalog_cli(*args: str) -> Result:
    return CliRunner(env=WIDE).invoke(catalog, list(args))


def test_a100_8_json_has_a_row_per_cloud_cheapest_first() -> None:
    result = offers_cli("--gpus", "A100:8", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["provider"] for r in rows} == {"aws", "gcp", "azure"}
    for row in rows:
        assert {"provider", "instance_type", "region", "price_per_hour", "as_of", "source"} <= set(
            row
        )
        assert (row["gpu"], row["gpu_count"]) == ("A100", 8)
    prices = [r["price_per_hour"] for r in rows]
    assert prices == sorted(prices)


def test_a100_8_table_shows_every_cloud() -> None:
    result = offers_cli("--gpus", "A100:8")
    assert result.exit_code == 0, result.output
    for instance_type in ("p4d.24xlarge", "a2-highgpu-8g", "Standard_ND96asr_v4"):
        assert instance_type in result.stdout
    assert "8x A100 (40 GB)" in result.stdout
    assert "offers" in result.stderr


def test_cpus_memory_cloud_and_region_filter() -> None:
    result = offers_cli(
        "--cpus", "8", "--memory", "32", "--cloud", "azure", "--region", "eastus", "--json"
    )
    rows = json.loads(result.stdout)
    assert rows
    assert all(r["provider"] == "azure" and r["region"] == "eastus" for r in rows)
    assert all(r["vcpus"] >= 8 and r["memory_gb"] >= 32 and r["gpu_count"] == 0 for r in rows)


def test_several_clouds_can_be_named() -> None:
    rows = json.loads(
        offers_cli("--gpus", "T4:1", "--cloud", "aws", "--cloud", "azure", "--json").stdout
    )
    assert {r["provider"] for r in rows} == {"aws", "azure"}


def test_spot_rows_have_spot_prices_sorted() -> None:
    rows = json.loads(offers_cli("--gpus", "V100:1", "--spot", "--json").stdout)
    assert rows
    spot = [r["spot_price_per_hour"] for r in rows]
    assert None not in spot
    assert spot == sorted(spot)


def test_limit_bounds_the_rows_and_the_table_says_how_many_more() -> None:
    assert len(json.loads(offers_cli("--cpus", "2", "--json", "--limit", "3").stdout)) == 3
    result = offers_cli("--cpus", "2", "--limit", "2")
    assert result.exit_code == 0
    assert "more: --limit 0 shows all" in result.stderr


def test_a_region_without_rows_says_where_rows_are() -> None:
    result = offers_cli("--gpus", "A100:8", "--region", "mars-1", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "aws has rows for" in result.stderr
    assert "us-east-1" in result.stderr


def test_an_impossible_combination_explains_the_counts() -> None:
    result = offers_cli("--gpus", "A100:3")
    assert isinstance(result.exception, InvalidArgumentError)
    assert "counts that exist: aws: 8; gcp: 1, 2, 4, 8, 16; azure: 8" in str(result.exception)


def test_an_unknown_gpu_suggests_the_closest() -> None:
    result = offers_cli("--gpus", "A1OO:8")
    assert isinstance(result.exception, InvalidArgumentError)
    assert "did you mean" in str(result.exception)
    assert "A100" in str(result.exception)


@pytest.mark.parametrize(
    ("args", "field"),
    [(("--cpus", "-1"), "cpus"), (("--memory", "0"), "memory_gb"), (("--gpus", "A100:99"), "gpus")],
)
def test_bad_sizes_are_invalid_argument(args: tuple[str, ...], field: str) -> None:
    result = offers_cli(*args)
    assert isinstance(result.exception, InvalidArgumentError)
    assert f"invalid resources: {field}" in str(result.exception)


def test_local_is_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portacloud.jobs.gpus.detect_gpus", lambda: [(0, "Tesla T4")])
    rows = json.loads(offers_cli("--cloud", "local", "--gpus", "T4", "--json").stdout)
    assert [(r["provider"], r["gpu"], r["price_per_hour"]) for r in rows] == [("local", "T4", 0.0)]


def test_catalog_lint_passes_on_the_shipped_catalog() -> None:
    result = catalog_cli("lint")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no problems" in result.stderr


def test_catalog_lint_prints_one_line_per_problem_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    good = {
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
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow(good)
        writer.writerow({**good, "region": "us-east-1", "spot_price_per_hour": "50"})
        writer.writerow({**good, "region": "eu-west-1", "source": ""})
        writer.writerow(good)
    result = catalog_cli("lint", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert "above the on-demand price" in lines[0]
    assert "source is missing" in lines[1]
    assert "duplicate of line 2" in lines[2]
    assert "3 problems" in result.stderr


def test_catalog_gpus_lists_the_taxonomy() -> None:
    rows = json.loads(catalog_cli("gpus", "--json").stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["A100-80GB"]["memory_gb"] == 80
    assert "nvidia-a100-80gb" in by_name["A100-80GB"]["aliases"]
    assert by_name["A100"]["catalog_counts"]["aws"] == [8]
    table = catalog_cli("gpus")
    assert table.exit_code == 0
    assert "H100-NVL" in table.stdout


def test_catalog_regions() -> None:
    result = catalog_cli("regions", "gcp")
    assert result.exit_code == 0
    assert "us-central1" in result.stdout.split()

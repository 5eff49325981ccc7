"""``catalog update`` on recorded responses of the three price APIs (no network)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from portacloud.compute.catalog import catalog_origin, lint_catalog, offers, parse_resources
from portacloud.compute.catalog_update import changes_by_type, update_catalog
from portacloud.compute.price_sources.models import directory_fetch, network_fetch
from portacloud.costs.pricing import instance_price
from portacloud.errors import FailedPreconditionError, InvalidArgumentError

RECORDED = Path(__file__).parent / "recorded"
TODAY = date.today()
CLI = [sys.executable, "-m", "portacloud.cli"]


def test_update_from_recorded_responses() -> None:
    assert catalog_origin() is None
    result = update_catalog(fetch=directory_fetch(RECORDED), gcp_key="recorded", today=TODAY)
    assert catalog_origin() == result.path
    assert lint_catalog(result.path) == []
    new = changes_by_type(result.changes)
    assert new == {
        ("aws", "m7i.metal-24xl"): ["us-east-1"],
        ("aws", "g6e.24xlarge"): ["us-east-1"],
    }
    moves = {
        (c.provider, c.instance_type, c.region): round(c.move or 0, 3)
        for c in result.changes
        if c.kind == "price"
    }
    assert moves[("aws", "m7i.large", "us-east-1")] == -0.067
    assert moves[("azure", "Standard_D2_v5", "eastus")] == 0.104
    assert moves[("gcp", "n2-standard-4", "us-central1")] == 0.066
    assert ("aws", "m5.large", "us-east-1") not in moves  # unchanged
    # The shipped catalog already carries AWS's June 2025 P5en price and Azure's ND H100 v5.
    assert ("aws", "p5en.48xlarge", "us-east-1") not in moves
    assert ("azure", "Standard_ND96isr_H100_v5", "eastus") not in moves
    assert not any(k[1].startswith("e2-") for k in moves)  # within 5%
    assert any("aws us-east-2 skipped" in note for note in result.notes)
    # Everything that prices reads the user's catalog now.
    assert instance_price("aws", "p5en.48xlarge", "us-east-1") == pytest.approx(63.296)
    assert instance_price("azure", "Standard_D2_v5", "eastus") == pytest.approx(0.106)
    assert instance_price("azure", "Standard_D2_v5", "eastus", spot=True) == pytest.approx(0.0116)
    assert instance_price("azure", "Standard_ND96isr_H100_v5", "eastus") == pytest.approx(98.32)
    # Unchanged prices are re-dated and re-sourced too: the row says what was read today.
    h200 = offers(parse_resources(gpus="H200:8"), providers=["aws"], region="us-east-1")
    assert [(o.instance_type, o.as_of) for o in h200] == [("p5en.48xlarge", TODAY)]
    assert "AWS Price List bulk file" in h200[0].source
    # A new size of a known GPU family takes its GPU from the family rule, its count from AWS.
    l40s = next(
        o
        for o in offers(parse_resources(gpus="L40S:4"), providers=["aws"], region="us-east-1")
        if o.instance_type == "g6e.24xlarge"
    )
    assert (l40s.as_of, l40s.price_per_hour) == (TODAY, pytest.approx(15.06559))
    assert "AWS Price List bulk file" in l40s.source
    # Not added: a family the catalog does not know; a size the Azure API gives no shape for.
    assert instance_price("aws", "x9z.large", "us-east-1") is None
    assert instance_price("azure", "Standard_D16s_v5", "eastus") is None


def test_a_result_that_does_not_lint_is_not_written(tmp_path: Path) -> None:
    shutil.copytree(RECORDED, tmp_path / "rec")
    aws_file = tmp_path / "rec" / "aws-us-east-1.json"
    aws_file.write_text(aws_file.read_text().replace('"15.0655900000"', '"915.0655900000"'))
    with pytest.raises(FailedPreconditionError, match="lint problems"):
        update_catalog(clouds=["aws"], fetch=directory_fetch(tmp_path / "rec"), today=TODAY)
    assert catalog_origin() is None


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="PORTACLOUD_GCP_API_KEY"):
        update_catalog(clouds=["gcp"], fetch=directory_fetch(RECORDED))
    with pytest.raises(InvalidArgumentError, match="unknown cloud"):
        update_catalog(clouds=["oci"], fetch=directory_fetch(RECORDED))
    (tmp_path / "azure-eastus-1.json").write_text(json.dumps({"value": []}))
    with pytest.raises(InvalidArgumentError, match="not an Azure retail prices page"):
        update_catalog(clouds=["azure"], fetch=directory_fetch(tmp_path))
    with pytest.raises(FailedPreconditionError, match="no price source answered"):
        update_catalog(clouds=["aws"], fetch=directory_fetch(tmp_path))
    with pytest.raises(InvalidArgumentError, match="https only"):
        network_fetch()("x", "http://pricing.example/index.json")


def test_cli_prints_the_changes() -> None:
    done = subprocess.run(
        [*CLI, "catalog", "update", "--cloud", "aws", "--from", str(RECORDED)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert "new   aws g6e.24xlarge in us-east-1" in lines
    assert "price aws m7i.large us-east-1: 0.1008 -> 0.094 (-6.7%)" in lines
    assert "lint clean" in done.stderr
    shown = subprocess.run(
        [*CLI, "offers", "--gpus", "H200:8", "--cloud", "aws"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "your catalog" in shown.stderr

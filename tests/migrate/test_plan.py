"""The plan: per-key decisions, dry-run counts and bytes, and the cost estimate."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from migrate_helpers import contents, events, file_etags, run_cli

import portacloud
from portacloud.costs.storage import estimate_cost, load_prices, write_requests
from portacloud.migrate import Action, ObjectState, migrate
from portacloud.migrate.journal import JournalRow, Listed
from portacloud.migrate.plan import decide

Tree = Callable[[str], tuple[str, portacloud.Bucket]]


def _setup(tree: Tree) -> tuple[str, str, portacloud.Bucket, portacloud.Bucket]:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    for key, data in {"new/a": b"a" * 10, "new/b": b"b" * 20, "new/c": b"c" * 30}.items():
        src.put(key, data)
    for key, data in {"same/x": b"x" * 40, "same/y": b"y" * 50}.items():
        src.put(key, data)
        dst.put(key, data)
    src.put("changed", b"new bytes")  # same size as the old, different bytes
    dst.put("changed", b"old bytes")
    src.put("resized", b"longer than before")
    dst.put("resized", b"short")
    dst.put("extra/1", b"1" * 100)
    dst.put("extra/2", b"2" * 200)
    return src_url, dst_url, src, dst


def test_dry_run_counts_bytes_per_action_and_touches_nothing(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, dst = _setup(tree)
    before = file_etags(tmp_path / "dst")
    journal = tmp_path / "journal.sqlite"
    result = migrate(src_url, dst_url, dry_run=True, delete=True, journal=journal)
    plan = result.plan
    assert result.dry_run
    assert (plan.copies.objects, plan.copies.bytes) == (3, 60)
    assert (plan.overwrites.objects, plan.overwrites.bytes) == (2, 9 + 18)
    assert (plan.skips.objects, plan.skips.bytes) == (2, 90)
    assert (plan.deletes.objects, plan.deletes.bytes) == (2, 300)
    assert plan.extras.objects == 0
    assert not plan.delete_refused
    assert file_etags(tmp_path / "dst") == before
    assert contents(dst)["changed"] == b"old bytes"
    assert not journal.exists(), "a dry run writes no journal"


def test_extras_are_kept_and_counted_without_delete(tree: Tree) -> None:
    src_url, dst_url, _, _ = _setup(tree)
    plan = migrate(src_url, dst_url, dry_run=True).plan
    assert (plan.deletes.objects, plan.extras.objects, plan.extras.bytes) == (0, 2, 300)


def test_dry_run_flags_a_plan_that_deletes_too_much(tree: Tree) -> None:
    src_url, dst_url, _, _ = _setup(tree)
    plan = migrate(src_url, dst_url, dry_run=True, delete=True, max_delete=1).plan
    assert plan.delete_refused
    assert any("--max-delete 1" in w for w in plan.warnings)


def test_cli_dry_run_prints_the_plan_as_json_lines(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, _ = _setup(tree)
    done = run_cli("migrate", src_url, dst_url, "--dry-run", "--delete")
    assert done.returncode == 0, done.stderr
    (plan,) = events(done.stdout, "plan")
    assert plan["copies"] == {"objects": 3, "bytes": 60}
    assert plan["deletes"] == {"objects": 2, "bytes": 300}
    assert plan["cost"]["prices"][0]["as_of"]
    assert plan["cost"]["prices"][0]["source"]
    (summary,) = events(done.stdout, "summary")
    assert summary["dry_run"] is True
    assert summary["journal"] is None
    assert (tmp_path / "dst" / "changed").read_bytes() == b"old bytes"


def test_decide_pins_versions_and_reuses_verified_rows() -> None:
    src = Listed("k", 5, "s1", "aaaaaaaa")
    assert decide(src, None, None).action is Action.COPY  # type: ignore[union-attr]
    same = decide(src, Listed("k", 5, "d1", "aaaaaaaa"), None)
    assert same is not None
    assert (same.action, same.state, same.dst_etag) == (Action.SKIP, ObjectState.VERIFIED, "d1")
    changed = decide(src, Listed("k", 5, "d1", "bbbbbbbb"), None)
    assert changed is not None
    assert (changed.action, changed.dst_etag_planned, changed.src_etag) == (
        Action.OVERWRITE,
        "d1",
        "s1",
    )
    # Same size, a checksum missing: only the bytes can tell.
    assert decide(Listed("k", 5, "s1", None), Listed("k", 5, "d1", "aaaaaaaa"), None) is None
    # ...unless an earlier run computed it for this very version.
    old = JournalRow(
        key="k",
        action=Action.COPY,
        state=ObjectState.VERIFIED,
        size=5,
        src_etag="s1",
        src_crc32c="aaaaaaaa",
        dst_etag="d1",
        copies=1,
    )
    reused = decide(Listed("k", 5, "s1", None), Listed("k", 5, "d1", None), old)
    assert reused is not None
    assert (reused.action, reused.copies) == (Action.SKIP, 1)
    # A new source version is never covered by the old row.
    moved = decide(Listed("k", 5, "s2", None), Listed("k", 5, "d1", "aaaaaaaa"), old)
    assert moved is None


def test_same_size_objects_without_checksums_are_compared_by_their_bytes(
    tree: Tree, tmp_path: Path
) -> None:
    src_url, src = tree("src")
    dst_url, _dst = tree("dst")
    # Files placed by other tools carry no CRC32C: the plan must read them to decide.
    (tmp_path / "src" / "foreign-same").write_bytes(b"identical")
    (tmp_path / "dst" / "foreign-same").write_bytes(b"identical")
    (tmp_path / "src" / "foreign-diff").write_bytes(b"version 2")
    (tmp_path / "dst" / "foreign-diff").write_bytes(b"version 1")
    assert src.head("foreign-same").crc32c is None
    plan = migrate(src_url, dst_url, dry_run=True).plan
    assert (plan.skips.objects, plan.overwrites.objects) == (1, 1)


def test_price_rows_are_dated_and_sourced() -> None:
    rows = load_prices()
    for name in ("s3", "gs", "az", "file", "memory"):
        row = rows[name]
        assert row.as_of[:2] == "20"
        assert len(row.as_of) == 10
        assert row.source
    assert rows["gcs"] is rows["gs"]
    assert rows["azure"] is rows["az"]


def test_cost_estimate_prices_egress_and_requests() -> None:
    gib = 1024**3
    cost = estimate_cost(
        src_provider="s3",
        dst_provider="az",
        egress_bytes=10 * gib,
        src_objects=2500,
        dst_objects=0,
        src_reads=2500,
        dst_writes=2500,
        dst_deletes=0,
        server_side=False,
    )
    s3, az = load_prices()["s3"], load_prices()["az"]
    assert cost.egress_usd == pytest.approx(10 * s3.egress_usd_per_gib)
    src_lists, dst_lists = 2 * 3, 2 * 1
    expected_requests = (
        2500 * s3.get_usd_per_1000
        + src_lists * s3.list_usd_per_1000
        + 2500 * az.put_usd_per_1000
        + dst_lists * az.list_usd_per_1000
    ) / 1000
    assert cost.request_usd == pytest.approx(expected_requests)
    assert cost.total_usd == pytest.approx(cost.egress_usd + expected_requests)
    assert {p.provider for p in cost.prices} == {"s3", "az"}


def test_cost_estimate_charges_no_egress_inside_one_provider_or_server_side() -> None:
    same = estimate_cost(
        src_provider="gs",
        dst_provider="gs",
        egress_bytes=10**12,
        src_objects=1,
        dst_objects=1,
        src_reads=1,
        dst_writes=1,
        dst_deletes=0,
        server_side=False,
    )
    assert same.egress_usd == 0
    local = estimate_cost(
        src_provider="file",
        dst_provider="s3",
        egress_bytes=10**12,
        src_objects=1,
        dst_objects=1,
        src_reads=1,
        dst_writes=1,
        dst_deletes=0,
        server_side=False,
    )
    assert local.egress_usd == 0
    assert local.request_usd == pytest.approx(
        2 * load_prices()["s3"].list_usd_per_1000 / 1000
        + load_prices()["s3"].put_usd_per_1000 / 1000
    )
    unknown = estimate_cost(
        src_provider="nosuch",
        dst_provider="s3",
        egress_bytes=1,
        src_objects=1,
        dst_objects=1,
        src_reads=1,
        dst_writes=1,
        dst_deletes=0,
        server_side=False,
    )
    assert unknown.total_usd is None
    assert any("nosuch" in note for note in unknown.notes)


def test_multipart_writes_are_counted_as_parts() -> None:
    assert write_requests(1) == 1
    assert write_requests(8 * 1024 * 1024) == 1
    assert write_requests(64 * 1024 * 1024) == math.ceil(64 / 8) + 2


def test_dry_run_of_the_plan_json_round_trips(tree: Tree) -> None:
    src_url, dst_url, _, _ = _setup(tree)
    plan = migrate(src_url, dst_url, dry_run=True).plan
    again = type(plan).model_validate_json(plan.model_dump_json())
    assert again == plan
    assert json.loads(plan.model_dump_json())["copies"]["objects"] == 3


def test_dry_run_to_a_directory_that_does_not_exist_creates_nothing(
    tree: Tree, tmp_path: Path
) -> None:
    src_url, src = tree("src")
    src.put("a", b"1")
    missing = tmp_path / "not-yet"
    result = migrate(src_url, missing.as_uri(), dry_run=True)
    assert result.plan.copies.objects == 1
    assert result.plan.cost.prices[0].provider == "file"
    assert not missing.exists()


def test_the_package_is_callable_as_migrate(tree: Tree) -> None:
    import types

    import portacloud.migrate as package

    # Importing any submodule binds the package, not the function, to portacloud.migrate.
    assert isinstance(package, types.ModuleType)
    src_url, src = tree("src")
    src.put("a", b"1")
    result = package(src_url, tree("dst")[0], dry_run=True)
    assert result.plan.copies.objects == 1

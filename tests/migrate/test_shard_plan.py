"""Shard planning: key ranges that cover every key once and balance objects and bytes; the
dry run; where the state may live."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from migrate_helpers import events, run_cli

import portacloud
from portacloud.errors import FailedPreconditionError, InvalidArgumentError
from portacloud.migrate.models import KeyRange
from portacloud.migrate.plan import objects_of
from portacloud.migrate.shard_state import check_placement, check_reachable
from portacloud.migrate.shards import cut_ranges


def _owner(ranges: list[KeyRange], key: str) -> list[int]:
    return [i for i, r in enumerate(ranges) if key in r]


def test_ranges_cover_every_key_exactly_once() -> None:
    rng = random.Random(3)
    entries = sorted((f"k{rng.randrange(10**9):09d}", rng.randint(0, 5000)) for _ in range(999))
    ranges = cut_ranges(entries, 7)
    assert len(ranges) == 7
    assert ranges[0].after is None
    assert ranges[-1].upto is None
    for key, _ in entries:
        assert len(_owner(ranges, key)) == 1
    # Keys that were not there at planning time still have exactly one owner.
    for key in ("", "a", "k5", "zzz", "k999999999x"):
        assert len(_owner(ranges, key)) == 1


def test_ranges_balance_count_and_bytes() -> None:
    # Half the keys are tiny, half are big: a count-only cut would give one shard all bytes.
    entries = [(f"a{i:04d}", 1) for i in range(500)] + [(f"b{i:04d}", 10_000) for i in range(500)]
    ranges = cut_ranges(entries, 4)
    work = []
    for r in ranges:
        mine = [(k, s) for k, s in entries if k in r]
        work.append(len(mine) / 1000 + sum(s for _, s in mine) / (500 * 10_001))
    assert max(work) - min(work) < 0.05


def test_fewer_objects_than_shards() -> None:
    assert len(cut_ranges([("a", 1), ("b", 1)], 8)) == 2
    assert cut_ranges([], 8) == [KeyRange()]
    with pytest.raises(InvalidArgumentError):
        cut_ranges([], 0)


def test_listing_a_range(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).write_bytes(b"1")
    with portacloud.open_bucket(tmp_path.as_uri()) as bucket:
        keys = [o.key for o in objects_of(bucket, KeyRange(after="a", upto="c"))]
    assert keys == ["b", "c"]


def test_state_must_be_outside_both_sides_and_reachable(tmp_path: Path) -> None:
    src, dst = (tmp_path / "src").as_uri(), (tmp_path / "dst").as_uri()
    with pytest.raises(InvalidArgumentError, match="overlaps the source"):
        check_placement(f"{src}/state", src, dst)
    with pytest.raises(InvalidArgumentError, match="overlaps the destination"):
        check_placement(f"{dst}/.state", src, dst)
    with pytest.raises(InvalidArgumentError, match="overlaps"):
        check_placement(tmp_path.as_uri(), src, dst)
    check_placement((tmp_path / "state").as_uri(), src, dst)
    with pytest.raises(FailedPreconditionError, match="other machines"):
        check_reachable((tmp_path / "state").as_uri(), "ray://10.1.2.3:8265", shared=False)
    check_reachable((tmp_path / "state").as_uri(), "ray://10.1.2.3:8265", shared=True)
    check_reachable((tmp_path / "state").as_uri(), "local://", shared=False)
    with pytest.raises(FailedPreconditionError, match="memory"):
        check_reachable("memory://state", "local://", shared=False)


def test_dry_run_reports_the_shard_plan_and_submits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"k{i:02d}").write_bytes(b"x" * 100 * (i + 1))
    home = tmp_path / "home"
    monkeypatch.setenv("PORTACLOUD_HOME", str(home))
    state = tmp_path / "state"
    args = [src.as_uri(), (tmp_path / "dst").as_uri(), "--on", "local://", "--shards", "4"]
    done = run_cli("migrate", *args, "--dry-run", "--state", state.as_uri(), "--json")
    assert done.returncode == 0, done.stderr
    (plan,) = events(done.stdout, "shard-plan")
    shards = plan["shards"]
    assert len(shards) == 4
    assert sum(s["objects"] for s in shards) == 40
    assert sum(s["bytes"] for s in shards) == sum(100 * (i + 1) for i in range(40))
    assert all("total_usd" in s["cost"] for s in shards)
    assert events(done.stdout, "summary")[0]["dry_run"] is True
    # Nothing was written: no state folder, no destination, no job.
    assert not state.exists()
    assert not (tmp_path / "dst").exists()
    assert not (home / "jobs").exists()


def test_options_that_need_on(tmp_path: Path) -> None:
    done = run_cli("migrate", tmp_path.as_uri(), (tmp_path / "x").as_uri(), "--shards", "3")
    assert done.returncode != 0
    assert "--on" in done.stderr

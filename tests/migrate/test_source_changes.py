"""Objects changed at the source during a run are detected and planned again, never mixed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from migrate_helpers import contents, fill

import portacloud
from portacloud.migrate import MigrationEvent, ObjectState, Phase, migrate, verify
from portacloud.migrate.journal import Journal

Tree = Callable[[str], tuple[str, portacloud.Bucket]]


def test_a_change_between_plan_and_copy_is_replanned(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    fill(src, 10, seed=20)
    planned_etag = src.head("d3/obj-00003.bin").etag

    def change(event: MigrationEvent) -> None:
        if event.kind == "phase" and event.phase is Phase.COPY:
            src.put("d3/obj-00003.bin", b"written after the plan")

    journal = tmp_path / "j.sqlite"
    result = migrate(src_url, dst_url, journal=journal, on_event=change)
    assert result.ok, result.failures
    assert result.replanned == 1
    assert dst.get("d3/obj-00003.bin") == b"written after the plan"
    assert contents(dst) == contents(src)
    with Journal(journal, src=src_url, dst=dst_url) as book:
        row = book.get("d3/obj-00003.bin")
        assert row is not None
        assert row.src_etag == src.head("d3/obj-00003.bin").etag != planned_etag
        assert row.state is ObjectState.VERIFIED


def test_a_change_after_the_copy_is_caught_by_verify_and_copied_again(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    fill(src, 10, seed=21)
    verifies = 0

    def change(event: MigrationEvent) -> None:
        nonlocal verifies
        if event.kind == "phase" and event.phase is Phase.VERIFY:
            verifies += 1
            if verifies == 1:
                src.put("d1/obj-00001.bin", b"changed after it was copied")

    result = migrate(src_url, dst_url, on_event=change)
    assert result.ok, result.failures
    assert verifies == 2, "a second copy-and-verify round ran"
    assert result.replanned == 1
    assert result.copied == 11
    assert dst.get("d1/obj-00001.bin") == b"changed after it was copied"
    assert verify(src_url, dst_url).ok


def test_a_change_during_a_streamed_copy_never_lands_half_old(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    old = os.urandom(24 * 1024 * 1024)
    new = os.urandom(24 * 1024 * 1024)
    src.put("big", old)
    changed = False
    seen_at_destination: list[bytes] = []

    def change(event: MigrationEvent) -> None:
        nonlocal changed
        if event.kind == "bytes" and not changed:
            changed = True  # the first 8 MiB are on their way; replace the rest under it
            src.put("big", new)
        if event.kind == "object" and event.phase is Phase.COPY:
            seen_at_destination.append(dst.get("big"))

    result = migrate(src_url, dst_url, on_event=change)
    assert result.ok, result.failures
    assert changed
    assert result.replanned == 1
    assert dst.get("big") == new
    assert all(data in (old, new) for data in seen_at_destination), "a mix of versions landed"


def test_a_source_deleted_during_the_run_is_reported_gone(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    fill(src, 5, seed=22)

    def remove(event: MigrationEvent) -> None:
        if event.kind == "phase" and event.phase is Phase.COPY:
            src.delete("d2/obj-00002.bin")

    result = migrate(src_url, dst_url, on_event=remove)
    assert result.ok
    assert result.gone == 1
    assert "d2/obj-00002.bin" not in contents(dst)


def test_a_source_that_never_settles_fails_after_bounded_rounds(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, _ = tree("dst")
    src.put("hot", b"0")
    count = 0

    def churn(event: MigrationEvent) -> None:
        nonlocal count
        if event.kind == "phase" and event.phase is Phase.VERIFY:
            count += 1
            src.put("hot", str(count).encode())

    result = migrate(src_url, dst_url, on_event=churn)
    assert not result.ok
    (failure,) = result.failures
    assert failure.key == "hot"
    assert "kept changing" in failure.message

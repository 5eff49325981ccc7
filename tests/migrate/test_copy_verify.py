"""Copy and verify: file to file, memory to file, same-bucket server-side, bounded memory."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from migrate_helpers import contents, fill

import portacloud
from portacloud.migrate import MigrationEvent, ObjectState, migrate, verify
from portacloud.migrate.journal import Journal
from portacloud.migrate.receipt import file_sha256

Tree = Callable[[str], tuple[str, portacloud.Bucket]]


def test_file_to_file_copies_verifies_and_writes_a_receipt(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    written = fill(src, 40, seed=1)
    src.put("large/blob", os.urandom(9 * 1024 * 1024))  # above the in-memory threshold
    journal = tmp_path / "j.sqlite"
    result = migrate(src_url, dst_url, journal=journal, concurrency=4)
    assert result.ok, result.failures
    assert (result.copied, result.verified, result.skipped) == (41, 41, 0)
    assert contents(dst) == contents(src)
    assert set(contents(dst)) == {*written, "large/blob"}
    assert result.journal == str(journal)
    assert result.receipt is not None
    receipt = Path(result.receipt)
    assert receipt.name == "j.receipt.jsonl"
    assert file_sha256(receipt) == result.receipt_sha256
    lines = [json.loads(line) for line in receipt.read_text().splitlines()]
    assert [line["key"] for line in lines] == sorted(contents(src))
    for line in lines:
        head = dst.head(line["key"])
        assert (line["size"], line["crc32c"], line["dst_etag"]) == (
            head.size,
            head.crc32c,
            head.etag,
        )
        assert line["src_etag"] == src.head(line["key"]).etag
    assert verify(src_url, dst_url).ok


def test_content_type_and_metadata_are_preserved(tree: Tree, memory_name: str) -> None:
    src = portacloud.open_bucket(f"memory://{memory_name}")
    src.put("doc.json", b"{}", content_type="application/json", metadata={"Owner": "ml-team"})
    src.put("plain", b"no type")
    src.put("big.bin", os.urandom(9 * 1024 * 1024), content_type="x/y", metadata={"a": "b"})
    dst_url, dst = tree("dst")
    result = migrate(f"memory://{memory_name}", dst_url)
    assert result.ok, result.failures
    doc = dst.head("doc.json")
    assert (doc.content_type, dict(doc.metadata)) == ("application/json", {"owner": "ml-team"})
    assert dst.head("plain").content_type is None
    big = dst.head("big.bin")
    assert (big.content_type, dict(big.metadata)) == ("x/y", {"a": "b"})
    assert contents(dst) == contents(src)


def test_memory_to_file_with_prefixes(tree: Tree, memory_name: str) -> None:
    src = portacloud.open_bucket(f"memory://{memory_name}")
    fill(src, 10, seed=2, prefix="keep/")
    fill(src, 3, seed=3, prefix="other/")
    dst_url, _dst = tree("dst")
    result = migrate(f"memory://{memory_name}/keep/", f"{dst_url}/into")
    assert result.ok
    assert result.copied == 10
    into = portacloud.open_bucket(f"{dst_url}/into")
    assert contents(into) == contents(portacloud.open_bucket(f"memory://{memory_name}/keep/"))


def test_rerun_copies_nothing_and_changes_are_overwritten(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    fill(src, 12, seed=4)
    journal = tmp_path / "j.sqlite"
    assert migrate(src_url, dst_url, journal=journal).copied == 12
    again = migrate(src_url, dst_url, journal=journal)
    assert (again.copied, again.skipped, again.verified) == (0, 12, 12)
    src.put("d1/obj-00001.bin", b"changed at the source")
    third = migrate(src_url, dst_url, journal=journal)
    assert (third.copied, third.plan.overwrites.objects) == (1, 1)
    assert dst.get("d1/obj-00001.bin") == b"changed at the source"
    with Journal(journal, src=src_url, dst=dst_url) as book:
        row = book.get("d1/obj-00001.bin")
        assert row is not None
        assert (row.state, row.copies) == (ObjectState.VERIFIED, 2)


def test_a_fresh_journal_skips_what_is_already_identical(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, _ = tree("dst")
    fill(src, 5, seed=5)
    migrate(src_url, dst_url, journal=tmp_path / "first.sqlite")
    second = migrate(src_url, dst_url, journal=tmp_path / "second.sqlite")
    assert (second.copied, second.skipped, second.verified) == (0, 5, 5)


def test_foreign_source_objects_are_hashed_once_and_recorded(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    (tmp_path / "src" / "foreign.bin").write_bytes(b"written by another tool")
    assert src.head("foreign.bin").crc32c is None
    journal = tmp_path / "j.sqlite"
    result = migrate(src_url, dst_url, journal=journal)
    assert result.ok
    with Journal(journal, src=src_url, dst=dst_url) as book:
        row = book.get("foreign.bin")
        assert row is not None
        assert row.src_crc32c == dst.head("foreign.bin").crc32c
    again = migrate(src_url, dst_url, journal=journal)
    assert (again.copied, again.skipped) == (0, 1)


def test_same_bucket_copies_run_server_side(memory_name: str) -> None:
    bucket = portacloud.open_bucket(f"memory://{memory_name}")
    fill(bucket, 6, seed=6, prefix="v1/")
    seen: list[MigrationEvent] = []
    result = migrate(
        f"memory://{memory_name}/v1/", f"memory://{memory_name}/v2/", on_event=seen.append
    )
    assert result.ok
    assert result.plan.server_side_copy
    assert result.plan.cost.egress_bytes == 0
    assert (result.copied, result.bytes_copied) == (6, 0)  # no byte went through the client
    assert not [e for e in seen if e.kind == "bytes"]
    v1 = portacloud.open_bucket(f"memory://{memory_name}/v1/")
    v2 = portacloud.open_bucket(f"memory://{memory_name}/v2/")
    assert contents(v1) == contents(v2)


def test_large_objects_stream_with_bounded_memory(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    size = 96 * 1024 * 1024
    with src.open("huge.bin", "wb") as out:
        block = os.urandom(1024 * 1024)
        for _ in range(size // len(block)):
            out.write(block)
    tracemalloc.start()
    try:
        result = migrate(src_url, dst_url, concurrency=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    assert dst.head("huge.bin").size == size
    assert dst.head("huge.bin").crc32c == src.head("huge.bin").crc32c
    # The object is never held whole: the copy moves it in 8 MiB chunks.
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 96 MiB object"

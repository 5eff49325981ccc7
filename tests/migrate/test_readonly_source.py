"""A read-only tree lists, reads, stats and serves as a migration source.

The tree is a real read-only bind mount (as root, which CI is): before decision 0002, opening
it as a bucket tried to create ``.portacloud/`` and every command failed with
``[UNKNOWN] ... unexpected OSError``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from migrate_helpers import events, run_cli

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.migrate import migrate

FOREIGN = {"plain.txt": b"placed by hand", "deep/er/data.bin": bytes(range(256)) * 50}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in root.rglob("*")
    }


def _fill(src: Path) -> dict[str, bytes]:
    written = {"ours/a.json": b'{"a": 1}', "ours/b.txt": b"bee"}
    # Written through a deeper URL: the tree's top was never opened by portacloud.
    bucket = portacloud.open_bucket((src / "ours").as_uri())
    for key, data in written.items():
        bucket.put(key.removeprefix("ours/"), data, content_type="text/plain")
    for rel, data in FOREIGN.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return written | FOREIGN


@pytest.fixture
def readonly(tmp_path: Path) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A tree of portacloud-written and foreign files, seen through a read-only bind mount."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (CI runs as root)")
    objects = _fill(tmp_path / "src")
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(tmp_path / "src"), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
        with pytest.raises(OSError, match="Read-only"):
            (mount / "probe").write_bytes(b"x")
        yield mount, objects
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_read_only_mount_lists_reads_and_stats(readonly: tuple[Path, dict[str, bytes]]) -> None:
    mount, objects = readonly
    before = _snapshot(mount)
    listed = run_cli("ls", "-r", mount.as_uri())
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.split()) == sorted(objects)
    for key, data in objects.items():
        stat = run_cli("stat", f"{mount.as_uri()}/{key}")
        assert stat.returncode == 0, stat.stderr
        recorded = json.loads(stat.stdout)["checksums"].get("crc32c")
        assert recorded == (None if key in FOREIGN else crc32c_hex(data))
        bucket = portacloud.open_bucket(mount.as_uri())
        assert bucket.get(key) == data
    cat = run_cli("cat", f"{mount.as_uri()}/plain.txt")
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout == "placed by hand"
    denied = run_cli("cp", f"{mount.as_uri()}/plain.txt", f"{mount.as_uri()}/copy.txt")
    assert denied.returncode == 1
    assert denied.stderr.startswith("error: [PERMISSION_DENIED]"), denied.stderr
    assert _snapshot(mount) == before


def test_a_read_only_mount_is_a_migration_source(
    readonly: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    mount, objects = readonly
    dst = tmp_path / "dst"
    dry = run_cli("migrate", "--dry-run", mount.as_uri(), dst.as_uri())
    assert dry.returncode == 0, dry.stderr
    assert not dst.exists()
    result = migrate(mount.as_uri(), dst.as_uri(), journal=tmp_path / "j.sqlite")
    assert result.ok, result.failures
    assert result.verified == len(objects)
    copied = portacloud.open_bucket(dst.as_uri())
    for key, data in objects.items():
        assert copied.get(key) == data
        # Foreign files had no CRC32C: the one computed from their bytes was written with them.
        assert copied.head(key).crc32c == crc32c_hex(data)
    again = run_cli("verify", mount.as_uri(), dst.as_uri())
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_chmod_a_w_tree_lists_reads_and_migrates(tmp_path: Path) -> None:
    objects = _fill(tmp_path / "src")
    src = tmp_path / "src"
    paths = sorted(src.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    for path in [*paths, src]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        before = _snapshot(src)
        bucket = portacloud.open_bucket(src.as_uri())
        assert sorted(e.key for e in bucket.list()) == sorted(objects)
        assert bucket.get("plain.txt") == FOREIGN["plain.txt"]
        dst = tmp_path / "dst"
        done = run_cli("migrate", src.as_uri(), dst.as_uri(), "--journal", str(tmp_path / "j"))
        assert done.returncode == 0, done.stdout + done.stderr
        (summary,) = events(done.stdout, "summary")
        assert summary["verified"] == len(objects), summary
        assert _snapshot(src) == before
    finally:
        for path in [src, *src.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)

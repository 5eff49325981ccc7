"""The file:// layout: what is kept about an object travels with the object (decision 0002).

Every test here failed on the layout before it (commit 6311b32): records at "the nearest
parent with .portacloud", temp files under the root, directories created on open.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.openers import open_object
from portacloud.providers import file_meta, file_tmp


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


def _no_xattrs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(file_meta.os, "setxattr", refuse)
    monkeypatch.setattr(file_meta.os, "getxattr", refuse)


@pytest.fixture(params=["xattr", "sidecar"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "sidecar":
        _no_xattrs(monkeypatch)
    return str(request.param)


# ---------------------------------------------------------------------- defect 6


def test_metadata_is_the_same_through_every_url(tmp_path: Path, mode: str) -> None:
    top = portacloud.open_bucket(tmp_path.as_uri())
    written = top.put("sub/x", b"hello", content_type="text/plain", metadata={"k": "v"})
    sub = portacloud.open_bucket((tmp_path / "sub").as_uri())
    seen = sub.head("x")
    assert (seen.content_type, dict(seen.metadata), seen.crc32c) == (
        "text/plain",
        {"k": "v"},
        written.crc32c,
    )
    bucket, key = open_object((tmp_path / "sub" / "x").as_uri())
    assert bucket.head(key).crc32c == written.crc32c
    # And the other way round: written through the deeper URL, read through the top.
    sub.put("y", b"other", content_type="application/json")
    assert top.head("sub/y").content_type == "application/json"
    assert top.head("sub/y").crc32c is not None


def test_deleting_through_a_sub_url_deletes_the_metadata(tmp_path: Path, mode: str) -> None:
    top = portacloud.open_bucket(tmp_path.as_uri())
    top.put("sub/deeper/x", b"1", content_type="text/plain")
    top.put("sub/y", b"2", content_type="text/plain")
    sub = portacloud.open_bucket((tmp_path / "sub").as_uri())
    sub.delete("deeper/x")
    bucket, key = open_object((tmp_path / "sub" / "y").as_uri())
    bucket.delete(key)
    assert _files(tmp_path) == []
    assert list(tmp_path.iterdir()) == [tmp_path / "sub"]  # the root's own child, kept as root
    assert list((tmp_path / "sub").iterdir()) == []


def test_a_write_through_an_object_url_keeps_everything_in_its_directory(
    tmp_path: Path, mode: str
) -> None:
    # A stray store above (what the old layout adopted as "the root") must not matter.
    (tmp_path / ".portacloud").mkdir()
    bucket, key = open_object((tmp_path / "x" / "y" / "big.bin").as_uri())
    assert key == "big.bin"
    info = bucket.put(key, b"z" * 1000, content_type="application/octet-stream")
    sidecar = f"x/y/.portacloud/files/{_sha(b'big.bin')}.json"
    assert _files(tmp_path) == (["x/y/big.bin"] if mode == "xattr" else [sidecar, "x/y/big.bin"])
    again = portacloud.open_bucket((tmp_path / "x").as_uri()).head("y/big.bin")
    assert again.crc32c == info.crc32c


def _sha(name: bytes) -> str:
    return hashlib.sha256(name).hexdigest()


def test_temp_files_live_beside_the_target_and_are_hidden(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    with bucket.open("a/b/k", "wb") as out:
        out.write(b"x" * 100)
        out.flush()
        temps = [p.name for p in (tmp_path / "a" / "b").iterdir()]
        assert len(temps) == 1
        assert file_tmp.is_temp_name(temps[0])
        assert [e.key for e in bucket.list()] == []
    assert _files(tmp_path) == ["a/b/k"]
    assert [e.key for e in bucket.list()] == ["a/b/k"]


def test_the_record_is_an_xattr_set_before_the_rename(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    info = bucket.put("k", b"data", content_type="text/plain")
    raw = os.getxattr(tmp_path / "k", file_meta.META_XATTR)
    assert file_meta.etag_of(os.stat(tmp_path / "k")) == info.etag
    assert b'"crc32c"' in raw
    assert info.etag in raw.decode()


@pytest.mark.parametrize("key", [".portacloud-x.tmp", "a/.portacloudy", ".portacloud"])
def test_reserved_names_are_refused_as_keys(tmp_path: Path, key: str) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    with pytest.raises(portacloud.InvalidArgumentError, match="reserved"):
        bucket.put(key, b"x")


def test_create_only_is_atomic_between_threads_in_one_directory(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        try:
            bucket.put("d/k", str(n).encode(), if_none_match="*")
            wins.append(n)
        except portacloud.FailedPreconditionError:
            pass

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert bucket.get("d/k") == str(wins[0]).encode()


# ---------------------------------------------------------------------- the old layout


def _old_put(
    root: Path, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
) -> str:
    """Write an object as the pre-0002 layout did: a JSON record in ROOT/.portacloud/meta."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    system = root / ".portacloud"
    for name in ("tmp", "meta", "locks"):
        (system / name).mkdir(parents=True, exist_ok=True)
    (system / "locks" / "00").touch()
    crc = crc32c_hex(data)
    record = {
        "key": key,
        "etag": file_meta.etag_of(path.stat()),
        "content_type": content_type,
        "metadata": metadata or {},
        "crc32c": crc,
    }
    (system / "meta" / f"{_sha(key.encode())}.json").write_text(json.dumps(record))
    return crc


def test_an_old_root_store_is_read_then_moved_by_the_first_write(tmp_path: Path) -> None:
    kept = _old_put(tmp_path, "a/kept", b"1", content_type="text/plain", metadata={"m": "1"})
    _old_put(tmp_path, "a/changed", b"2", content_type="text/plain")
    (tmp_path / "a" / "changed").write_bytes(b"rewritten by another tool")
    assert (tmp_path / ".portacloud" / "meta").is_dir()
    before = _files(tmp_path)

    bucket = portacloud.open_bucket(tmp_path.as_uri())
    assert bucket.head("a/kept").content_type == "text/plain"  # read in place...
    assert _files(tmp_path) == before  # ...without touching anything
    bucket.put("other", b"3")  # the first write moves the store
    assert not (tmp_path / ".portacloud").exists()
    for reader in (bucket, portacloud.open_bucket((tmp_path / "a").as_uri())):
        info = reader.head("a/kept" if reader is bucket else "kept")
        assert (info.content_type, dict(info.metadata), info.crc32c) == (
            "text/plain",
            {"m": "1"},
            kept,
        )
        assert reader.head("a/changed" if reader is bucket else "changed").crc32c is None
    assert _files(tmp_path) == ["a/changed", "a/kept", "other"]


def test_an_old_store_above_the_root_is_moved_too(tmp_path: Path) -> None:
    kept = _old_put(tmp_path, "sub/kept", b"1", content_type="text/plain")
    sub = portacloud.open_bucket((tmp_path / "sub").as_uri())
    assert sub.head("kept").crc32c == kept
    sub.put("new", b"2")
    assert not (tmp_path / ".portacloud").exists()
    assert sub.head("kept").crc32c == kept


# ---------------------------------------------------------------------- defect 4


def test_opening_and_reading_a_missing_directory_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "does" / "not" / "exist"
    bucket = portacloud.open_bucket(missing.as_uri())
    with pytest.raises(portacloud.NotFoundError, match="no such directory"):
        list(bucket.list())
    with pytest.raises(portacloud.NotFoundError):
        bucket.head("k")
    with pytest.raises(portacloud.NotFoundError):
        bucket.get("k")
    assert not bucket.exists("k")
    bucket.delete("k")
    assert list(tmp_path.iterdir()) == []
    bucket.put("k", b"first write creates the root")
    assert bucket.get("k") == b"first write creates the root"
    assert _files(tmp_path) == ["does/not/exist/k"]


def test_reads_of_an_existing_tree_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"placed by hand")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    assert [e.key for e in bucket.list()] == ["d/f"]
    assert bucket.get("d/f") == b"placed by hand"
    assert bucket.head("d/f").crc32c is None
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


# ---------------------------------------------------------------------- defects 3 and 13


@pytest.mark.parametrize("url", ["file://relative/path", "file://host/abs/path"])
def test_a_host_is_refused_by_every_opener(url: str) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match=r"file:///abs/path"):
        open_object(url)
    with pytest.raises(portacloud.InvalidArgumentError, match=r"file:///abs/path"):
        portacloud.open_bucket(url)


def test_localhost_is_allowed(tmp_path: Path) -> None:
    bucket, key = open_object(f"file://localhost{tmp_path}/k")
    bucket.put(key, b"x")
    assert (tmp_path / "k").read_bytes() == b"x"


@pytest.mark.parametrize("tail", ["a//b.txt", "a/./b.txt", "a/../b.txt", "a/b//c.txt"])
def test_object_paths_are_never_normalised(tmp_path: Path, tail: str) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="never normalised"):
        open_object(f"{tmp_path.as_uri()}/{tail}")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- defect 8


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_next_writer_removes_stale_temp_files_in_its_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    stale = tmp_path / "d" / f"{file_tmp.TMP_PREFIX}dead{file_tmp.TMP_SUFFIX}"
    young = tmp_path / "d" / f"{file_tmp.TMP_PREFIX}live{file_tmp.TMP_SUFFIX}"
    stale.write_bytes(b"x" * 4096)
    young.write_bytes(b"y")
    _age(stale, file_tmp.STALE_AFTER.total_seconds() + 60)
    portacloud.open_bucket(tmp_path.as_uri()).put("d/k", b"new")
    assert not stale.exists()
    assert young.exists()


def test_the_safe_age_is_a_module_constant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_tmp, "STALE_AFTER", timedelta(seconds=0))
    temp = tmp_path / f"{file_tmp.TMP_PREFIX}dead{file_tmp.TMP_SUFFIX}"
    temp.write_bytes(b"x")
    _age(temp, 1)
    portacloud.open_bucket(tmp_path.as_uri()).put("k", b"new")
    assert not temp.exists()


_KILLED_WRITER = """
import sys, portacloud
bucket = portacloud.open_bucket(sys.argv[1])
with bucket.open("d/victim", "wb") as out:
    out.write(b"x" * 1024)
    out.flush()
    print("writing", flush=True)
    while True:
        out.write(b"y" * 65536)
"""


def test_collect_garbage_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, tmp_path.as_uri()], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.2)
    proc.kill()
    proc.wait()
    proc.stdout.close()
    (leftover,) = (tmp_path / "d").iterdir()
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    bucket.put("d/kept", b"k")
    assert bucket.collect_garbage(older_than=timedelta(hours=1)) == []  # too young: maybe live
    _age(leftover, 7200)
    assert bucket.collect_garbage() == [f"d/{leftover.name}"]
    assert _files(tmp_path) == ["d/kept"]


def test_collect_garbage_removes_orphaned_sidecars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_xattrs(monkeypatch)
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    bucket.put("k", b"x")
    (tmp_path / "k").unlink()  # removed by other tools: the sidecar is an orphan
    (sidecar,) = (tmp_path / ".portacloud" / "files").iterdir()
    _age(sidecar, 7200)
    assert bucket.collect_garbage(older_than=3600) == [f".portacloud/files/{sidecar.name}"]


def test_collect_garbage_is_unsupported_where_there_is_nothing_to_collect() -> None:
    with pytest.raises(portacloud.UnsupportedError, match="collect_garbage"):
        portacloud.open_bucket("memory://gc-test").collect_garbage()


def test_a_symlinked_sidecar_directory_is_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_xattrs(monkeypatch)
    root, outside = tmp_path / "root", tmp_path / "outside"
    (outside / "files").mkdir(parents=True)
    victim = outside / "files" / "victim.json"
    victim.write_text('{"name": "gone"}')
    _age(victim, 7200)
    root.mkdir()
    (root / ".portacloud").symlink_to(outside, target_is_directory=True)
    bucket = portacloud.open_bucket(root.as_uri())
    with pytest.raises(portacloud.PermissionDeniedError):
        bucket.put("k", b"x")
    assert bucket.collect_garbage(older_than=0) == []
    assert sorted(p.name for p in (outside / "files").iterdir()) == ["victim.json"]

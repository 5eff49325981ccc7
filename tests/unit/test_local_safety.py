"""The file backend never reads or writes outside its root, and a crash leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import portacloud


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "bucket"
    r.mkdir()
    return r


@pytest.fixture
def bucket(root: Path) -> portacloud.Bucket:
    return portacloud.open_bucket(root.as_uri())


@pytest.mark.parametrize(
    "key",
    [
        "../outside",
        "a/../../outside",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "nul\x00",
        ".portacloud/meta/x",
        "a/.portacloud/x",
        "dir/",
    ],
)
def test_escaping_keys_are_invalid_argument(
    bucket: portacloud.Bucket, root: Path, key: str
) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put(key, b"x")
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.get(key)
    assert not (root.parent / "outside").exists()


def test_symlinked_directory_inside_root_is_refused(
    bucket: portacloud.Bucket, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"do not read")
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(portacloud.InvalidArgumentError, match="symlink"):
        bucket.get("link/secret")
    with pytest.raises(portacloud.InvalidArgumentError, match="symlink"):
        bucket.put("link/new", b"x")
    assert not (outside / "new").exists()
    assert [e.key for e in bucket.list()] == []


def test_symlinked_file_inside_root_is_refused(
    bucket: portacloud.Bucket, root: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"do not overwrite")
    (root / "f").symlink_to(target)
    with pytest.raises(portacloud.InvalidArgumentError, match="symlink"):
        bucket.get("f")
    with pytest.raises(portacloud.InvalidArgumentError, match="symlink"):
        bucket.put("f", b"x")
    assert target.read_bytes() == b"do not overwrite"


def test_files_placed_by_other_tools_are_listed_without_checksum(
    bucket: portacloud.Bucket, root: Path
) -> None:
    (root / "plain.txt").write_bytes(b"hand made")
    info = bucket.head("plain.txt")
    assert info.size == 9
    assert info.crc32c is None
    assert bucket.get("plain.txt") == b"hand made"


def test_stale_sidecar_is_not_trusted(bucket: portacloud.Bucket, root: Path) -> None:
    bucket.put("k", b"original", content_type="text/plain")
    (root / "k").write_bytes(b"changed behind our back")
    info = bucket.head("k")
    assert info.crc32c is None
    assert info.content_type is None
    assert bucket.get("k") == b"changed behind our back"


def test_corrupted_bytes_raise_checksum_mismatch(bucket: portacloud.Bucket, root: Path) -> None:
    bucket.put("k", b"A" * 100)
    path = root / "k"
    st = path.stat()
    with open(path, "r+b") as f:  # same size, same inode: only the bytes change
        f.write(b"B")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(portacloud.ChecksumMismatchError):
        bucket.get("k")
    with pytest.raises(portacloud.ChecksumMismatchError), bucket.open("k") as f:
        f.read()


def test_file_and_prefix_conflict_is_failed_precondition(bucket: portacloud.Bucket) -> None:
    bucket.put("a/b", b"x")
    with pytest.raises(portacloud.FailedPreconditionError, match="key_file_and_prefix"):
        bucket.put("a", b"y")
    with pytest.raises(portacloud.FailedPreconditionError, match="key_file_and_prefix"):
        bucket.put("a/b/c", b"z")


def test_delete_prunes_empty_directories(bucket: portacloud.Bucket, root: Path) -> None:
    bucket.put("deep/er/key", b"x")
    bucket.delete("deep/er/key")
    assert not (root / "deep").exists()


_WRITER = textwrap.dedent(
    """
    import sys, portacloud
    bucket = portacloud.open_bucket(sys.argv[1])
    with bucket.open("victim", "wb") as out:
        out.write(b"x" * 1024)
        print("writing", flush=True)
        while True:
            out.write(b"y" * 65536)
    """
)


def test_kill_9_during_streamed_write_leaves_no_object(
    bucket: portacloud.Bucket, root: Path
) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, root.as_uri()], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not bucket.exists("victim")
    assert [e.key for e in bucket.list()] == []

"""``portacloud`` commands on file:// URLs never lose, move or invent data, nor write on reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

EXE = [sys.executable, "-m", "portacloud.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, *args], capture_output=True, text=True, env=os.environ.copy(), check=False
    )


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = run(*args)
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    return done


def one_error(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, no traceback
    assert lines[0].startswith(f"error: [{code}]"), lines[0]
    return lines[0]


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    return path


# ---------------------------------------------------------------------- defect 3


@pytest.mark.parametrize("command", ["cp", "cat", "stat", "rm", "ls", "gc"])
def test_a_url_with_a_host_is_refused_and_nothing_is_written(hello: Path, command: str) -> None:
    name = f"portacloud-test-{uuid.uuid4().hex}"
    url = f"file://relative/{name}"
    args = [command, str(hello), url] if command == "cp" else [command, url]
    line = one_error(run(*args), "INVALID_ARGUMENT")
    assert "file:///abs/path" in line
    assert not Path(f"/{name}").exists()
    assert not Path("/relative").exists()


# ---------------------------------------------------------------------- defect 4


def test_ls_of_a_missing_directory_is_not_found_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "does" / "not" / "exist"
    line = one_error(run("ls", missing.as_uri()), "NOT_FOUND")
    assert f"no such directory: {missing}" in line
    assert tree(tmp_path) == []


def test_ls_of_a_glob_creates_no_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"x")
    listed = run("ls", f"{tmp_path.as_uri()}/d/*.bin")
    assert listed.stdout.split() == [f"{tmp_path.as_uri()}/d/a.bin"]
    one_error(run("ls", f"{tmp_path.as_uri()}/none/*.bin"), "NOT_FOUND")
    assert tree(tmp_path) == ["d", "d/a.bin"]


@pytest.mark.parametrize("command", ["cat", "stat"])
def test_reading_a_missing_object_creates_nothing(tmp_path: Path, command: str) -> None:
    one_error(run(command, f"{tmp_path.as_uri()}/no/such/dir/key"), "NOT_FOUND")
    assert tree(tmp_path) == []


def test_reads_of_an_existing_tree_write_nothing(tmp_path: Path, hello: Path) -> None:
    store = tmp_path / "store"
    ok("cp", str(hello), f"{store.as_uri()}/a/b.txt")
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*")}
    ok("ls", "-r", "-l", store.as_uri())
    ok("ls", (store / "a").as_uri())
    ok("stat", f"{store.as_uri()}/a/b.txt")
    ok("cat", f"{store.as_uri()}/a/b.txt")
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*")} == before


# ---------------------------------------------------------------------- defect 6


def test_metadata_is_the_same_through_every_url(tmp_path: Path, hello: Path) -> None:
    store = tmp_path / "store"
    (store / "sub").mkdir(parents=True)
    from portacloud import open_bucket

    open_bucket(store.as_uri()).put("sub/x.txt", b"data", content_type="text/plain")
    ok("cp", str(hello), f"{store.as_uri()}/sub/y.txt")
    for url in (f"{store.as_uri()}/sub/x.txt", f"{store.as_uri()}/sub/y.txt"):
        seen = json.loads(ok("stat", url).stdout)
        assert len(seen["checksums"]["crc32c"]) == 8
    assert json.loads(ok("stat", f"{store.as_uri()}/sub/x.txt").stdout)["content_type"] == (
        "text/plain"
    )
    assert open_bucket(store.as_uri()).head("sub/y.txt").crc32c is not None
    assert open_bucket((store / "sub").as_uri()).head("x.txt").content_type == "text/plain"
    ok("rm", "-r", (store / "sub").as_uri())
    assert tree(store) == ["sub"]  # the bucket's own root stays; no orphaned records


def test_cp_into_a_new_directory_keeps_everything_there(tmp_path: Path, hello: Path) -> None:
    target = tmp_path / "x" / "y" / "big.bin"
    ok("cp", str(hello), target.as_uri())
    assert tree(tmp_path) == ["hello.txt", "x", "x/y", "x/y/big.bin"]
    assert json.loads(ok("stat", target.as_uri()).stdout)["checksums"]["crc32c"]


# ---------------------------------------------------------------------- defect 13


@pytest.mark.parametrize("tail", ["a//b.txt", "a/./b.txt", "a/x/../b.txt"])
def test_a_key_is_never_silently_changed(tmp_path: Path, hello: Path, tail: str) -> None:
    (tmp_path / "d").mkdir()
    line = one_error(run("cp", str(hello), f"{tmp_path.as_uri()}/d/{tail}"), "INVALID_ARGUMENT")
    assert "never normalised" in line
    assert tree(tmp_path / "d") == []


# ---------------------------------------------------------------------- defect 8

_KILLED = """
import sys
from portacloud.openers import open_object
bucket, key = open_object(sys.argv[1])
with bucket.open(key, "wb") as out:
    out.write(b"x" * 1024 * 1024)
    out.flush()
    print("writing", flush=True)
    while True:
        out.write(b"y" * 65536)
"""


def test_gc_removes_what_a_kill_9_left_and_says_what(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, f"{store.as_uri()}/d/big.bin"], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.2)
    proc.kill()
    proc.wait()
    proc.stdout.close()
    (leftover,) = (store / "d").iterdir()
    assert leftover.stat().st_size >= 1024 * 1024
    assert ok("gc", store.as_uri()).stdout == ""  # younger than an hour: maybe a live write
    then = time.time() - 7200
    os.utime(leftover, (then, then))
    done = ok("gc", store.as_uri(), "--older-than", "1h")
    assert done.stdout.split() == [f"d/{leftover.name}"]
    assert "removed 1" in done.stderr
    assert not leftover.exists()
    one_error(run("gc", store.as_uri(), "--older-than", "soon"), "INVALID_ARGUMENT")


def test_the_next_writer_removes_a_stale_temp_file(tmp_path: Path, hello: Path) -> None:
    (tmp_path / "d").mkdir()
    stale = tmp_path / "d" / ".portacloud-0123456789abcdef.tmp"
    stale.write_bytes(b"x" * 1000)
    then = time.time() - 7200
    os.utime(stale, (then, then))
    ok("cp", str(hello), f"{tmp_path.as_uri()}/d/new.txt")
    assert tree(tmp_path / "d") == ["new.txt"]

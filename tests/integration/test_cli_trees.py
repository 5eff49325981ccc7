"""``cp -r``, ``sync``, globs, ``du``, ``mv`` and ``rm`` end to end, on file:// and on S3.

The S3 side runs against the SeaweedFS server that scripts/services.sh starts; each command is
the real ``portacloud`` in a subprocess, as a user types it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_support import one_error_line, portacloud
from s3_support import fresh_bucket, isolate_aws_env, s3_endpoint

TREE = {
    "a.csv": b"1,2\n",
    "b.csv": b"3,4\n",
    "notes.txt": b"hello",
    "logs/2024/x.json": b"{}",
    "logs/2025/y.json": b'{"y": 1}',
    "logs/readme.md": b"# logs",
}

#: A bucket URL for a key part: ``at("dir/")`` -> ``s3://b/dir/?endpoint_url=...``.
At = Callable[[str], str]


@pytest.fixture(params=["file", "seaweedfs"])
def at(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[At]:
    if request.param == "file":
        root = (tmp_path / "bucket").as_uri()
        yield lambda path: f"{root}/{path}"
        return
    endpoint = s3_endpoint("seaweedfs")
    isolate_aws_env(monkeypatch)
    with fresh_bucket(endpoint) as name:
        yield lambda path: f"s3://{name}/{path}?endpoint_url={endpoint}"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for key, body in TREE.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    return root


def keys(url: str) -> list[str]:
    return sorted(portacloud("ls", "-r", url).stdout.decode().split())


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".portacloud" not in p.parts
    }


def test_cp_r_up_down_and_across(tmp_path: Path, tree: Path, at: At) -> None:
    portacloud("cp", "-r", str(tree), at("up/"))
    assert keys(at("up/")) == sorted(TREE)
    down = tmp_path / "down"
    portacloud("cp", "-r", at("up/"), str(down))
    assert files(down) == TREE
    portacloud("cp", "-r", at("up/logs"), at("copy/"))
    assert keys(at("copy/")) == ["2024/x.json", "2025/y.json", "readme.md"]


def test_sync_twice_copies_nothing_the_second_time(tree: Path, at: At) -> None:
    first = portacloud("sync", str(tree), at("mirror/")).stderr.decode()
    assert "copied 6 " in first, first
    second = portacloud("sync", str(tree), at("mirror/")).stderr.decode()
    assert "copied 0 " in second, second
    assert "skipped 6 identical" in second, second
    (tree / "notes.txt").unlink()
    third = portacloud("sync", "--delete", str(tree), at("mirror/")).stderr.decode()
    assert "deleted 1" in third, third
    assert "notes.txt" not in keys(at("mirror/"))


def test_sync_delete_respects_max_delete(tree: Path, at: At) -> None:
    portacloud("sync", str(tree), at("guarded/"))
    empty = tree.parent / "empty"
    empty.mkdir()
    line = one_error_line(
        portacloud("sync", "--delete", "--max-delete", "2", str(empty), at("guarded/"), check=False)
    )
    assert "FAILED_PRECONDITION" in line
    assert len(keys(at("guarded/"))) == 6


def test_globs_in_ls_cp_rm_and_du(tmp_path: Path, tree: Path, at: At) -> None:
    portacloud("cp", "-r", str(tree), at("g/"))
    listed = portacloud("ls", at("g/*.csv")).stdout.decode().split()
    assert [u.split("?")[0].rsplit("/", 1)[-1] for u in listed] == ["a.csv", "b.csv"]
    deep = portacloud("ls", at("g/**/*.json")).stdout.decode().split()
    assert len(deep) == 2
    assert len(portacloud("ls", at("g/?.csv")).stdout.decode().split()) == 2
    report = json.loads(portacloud("du", "--json", at("g/logs")).stdout)
    assert (report["objects"], report["bytes"]) == (3, 2 + 8 + 6)
    out = tmp_path / "csvs"
    portacloud("cp", at("g/*.csv"), f"{out}/")
    assert files(out) == {"a.csv": b"1,2\n", "b.csv": b"3,4\n"}
    portacloud("rm", at("g/**/*.json"))
    assert keys(at("g/")) == ["a.csv", "b.csv", "logs/readme.md", "notes.txt"]


def test_mv_rm_and_their_messages(tmp_path: Path, tree: Path, at: At) -> None:
    portacloud("cp", "-r", str(tree), at("m/"))
    portacloud("mv", at("m/notes.txt"), at("m/moved.txt"))
    assert "notes.txt" not in keys(at("m/"))
    assert "moved.txt" in keys(at("m/"))
    assert portacloud("cat", at("m/moved.txt")).stdout == b"hello"
    assert "rm -r" in one_error_line(portacloud("rm", at("m/logs"), check=False))
    assert "NOT_FOUND" in one_error_line(portacloud("rm", at("m/missing"), check=False))
    portacloud("rm", "-f", at("m/missing"))
    portacloud("rm", "-r", at("m/logs"))
    assert keys(at("m/")) == ["a.csv", "b.csv", "moved.txt"]

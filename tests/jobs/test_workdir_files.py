"""What a workdir ships (portacloud.jobs.workdir): excludes, links, the size limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import portacloud
from portacloud.jobs.models import JobCapabilities, JobSpec
from portacloud.jobs.workdir import check_workdir, scan_workdir, stage_workdir


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _shipped(root: Path) -> list[str]:
    return [e.path for e in scan_workdir(root).entries if e.kind != "dir"]


def test_gitignore_files_nested_ignores_and_portacloudignore(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            ".gitignore": "*.log\n/build/\n",
            ".portacloudignore": "!keep.log\ndata/raw/\n",
            "a.log": "",
            "keep.log": "",
            "build/x.o": "",
            "src/build/y.py": "",  # /build/ is anchored to the root
            "src/.gitignore": "gen_*\n",
            "src/gen_1.py": "",
            "src/main.py": "",
            "data/raw/big.bin": "",
            "data/small.csv": "",
            ".git/HEAD": "",
        },
    )
    assert sorted(_shipped(root)) == [
        ".gitignore",
        ".portacloudignore",
        "data/small.csv",
        "keep.log",
        "src/.gitignore",
        "src/build/y.py",
        "src/main.py",
    ]


def test_links_are_never_followed_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    root = _tree(tmp_path / "wd", {"data.txt": "21", "sub/x.txt": "x"})
    (root / "leak").symlink_to(outside)
    (root / "up").symlink_to("../outside.txt")
    (root / "alias").symlink_to("sub/x.txt")
    (root / "dirlink").symlink_to("sub")
    (root / "dangling").symlink_to("nowhere")
    workdir = scan_workdir(root)
    links = {e.path: e.inside for e in workdir.entries if e.kind == "link"}
    assert links == {
        "alias": "sub/x.txt",
        "dangling": None,
        "dirlink": None,
        "leak": None,
        "up": None,
    }

    kept = tmp_path / "kept"
    stage_workdir(workdir, kept, links="keep")
    assert os.readlink(kept / "leak") == str(outside)  # the link itself, not its bytes
    assert os.readlink(kept / "alias") == "sub/x.txt"

    resolved = tmp_path / "resolved"
    stage_workdir(workdir, resolved, links="inside-files")
    assert not (resolved / "alias").is_symlink()
    assert (resolved / "alias").read_text() == "x"
    assert sorted(p.name for p in resolved.iterdir()) == ["alias", "data.txt", "sub"]


def test_fifos_do_not_ship(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "f").write_text("")
    assert _shipped(tmp_path) == ["f"]


def test_the_limit_names_size_limit_and_biggest_files(tmp_path: Path) -> None:
    (tmp_path / "small.bin").write_bytes(b"\0" * 1024)
    (tmp_path / "big.bin").write_bytes(b"\0" * 3 * 2**20)
    (tmp_path / "mid.bin").write_bytes(b"\0" * 2**20)
    with pytest.raises(portacloud.InvalidArgumentError) as caught:
        scan_workdir(tmp_path, limit_mb=2)
    message = str(caught.value)
    assert "ships 4.0 MiB, over the limit of 2 MiB" in message
    assert "big.bin (3.0 MiB), mid.bin (1.0 MiB), small.bin (0.0 MiB)" in message
    assert scan_workdir(tmp_path, limit_mb=5).size == 4 * 2**20 + 1024


def test_ignored_files_do_not_count_towards_the_limit(tmp_path: Path) -> None:
    _tree(tmp_path, {".gitignore": "*.bin\n"})
    (tmp_path / "big.bin").write_bytes(b"\0" * 2 * 2**20)
    assert scan_workdir(tmp_path, limit_mb=1).size == len("*.bin\n")


def test_a_backend_bound_lowers_the_limit(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\0" * 2 * 2**20)
    spec = JobSpec(name="j", command="true", workdir=str(tmp_path))
    assert check_workdir(spec, JobCapabilities(), limit_mb=None) is not None
    with pytest.raises(portacloud.InvalidArgumentError, match="limit of 1 MiB"):
        check_workdir(spec, JobCapabilities(max_workdir_mb=1), limit_mb=100)
    with pytest.raises(portacloud.InvalidArgumentError, match="must be positive"):
        check_workdir(spec, JobCapabilities(), limit_mb=0)


def test_the_json_schema_describes_workdir() -> None:
    described = JobSpec.model_json_schema()["properties"]["workdir"]["description"]
    assert ".portacloudignore" in described
    assert "100 MiB" in described

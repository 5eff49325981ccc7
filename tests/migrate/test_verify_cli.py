"""``portacloud verify`` on corrupted destinations, receipts, and the CLI's output modes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from migrate_helpers import events, fill, json_lines, run_cli

import portacloud
from portacloud.migrate import migrate, verify

Tree = Callable[[str], tuple[str, portacloud.Bucket]]


def _migrated(tree: Tree, tmp_path: Path) -> tuple[str, str, portacloud.Bucket, portacloud.Bucket]:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    fill(src, 15, seed=30)
    assert migrate(src_url, dst_url, journal=tmp_path / "j.sqlite").ok
    return src_url, dst_url, src, dst


def _flip_a_byte_in_place(path: Path) -> None:
    """Corrupt a file the way bit rot does: same size, same mtime, same inode."""
    st = path.stat()
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )


def test_verify_passes_on_a_good_migration(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, _ = _migrated(tree, tmp_path)
    done = run_cli("verify", src_url, dst_url)
    assert done.returncode == 0, done.stderr
    (summary,) = events(done.stdout, "summary")
    assert summary["ok"] is True
    assert summary["checked"] == 15
    assert summary["deep"] is True


def test_verify_names_a_corrupted_object_and_both_checksums(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, src, dst = _migrated(tree, tmp_path)
    key = "d4/obj-00004.bin"
    recorded = dst.head(key).crc32c
    _flip_a_byte_in_place(tmp_path / "dst" / key)
    assert dst.head(key).crc32c == recorded, "the backend cannot see this corruption"
    done = run_cli("verify", src_url, dst_url)
    assert done.returncode == 1
    (mismatch,) = events(done.stdout, "mismatch")
    assert mismatch["key"] == key
    assert mismatch["reason"] == "crc32c"
    assert mismatch["src_crc32c"] == src.head(key).crc32c
    assert mismatch["dst_crc32c"] not in (None, mismatch["src_crc32c"])
    assert key in mismatch["message"]
    assert mismatch["src_crc32c"] in mismatch["message"]
    assert mismatch["dst_crc32c"] in mismatch["message"]
    # --quick trusts the recorded checksum, which this corruption leaves intact.
    assert run_cli("verify", "--quick", src_url, dst_url).returncode == 0


def test_verify_catches_different_bytes_behind_a_stale_sidecar(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, _dst = _migrated(tree, tmp_path)
    key = "d2/obj-00002.bin"
    path = tmp_path / "dst" / key
    path.write_bytes(bytes(len(path.read_bytes())))  # same size, new bytes, old sidecar
    for mode in ("--deep", "--quick"):
        done = run_cli("verify", mode, src_url, dst_url)
        assert done.returncode == 1, mode
        (mismatch,) = events(done.stdout, "mismatch")
        assert (mismatch["key"], mismatch["reason"]) == (key, "crc32c")
    result = verify(src_url, dst_url)
    assert [m.key for m in result.mismatches] == [key]


def test_verify_reports_missing_and_resized_objects(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, dst = _migrated(tree, tmp_path)
    dst.delete("d0/obj-00000.bin")
    dst.put("d1/obj-00001.bin", b"short")
    dst.put("only-here", b"extra")
    result = verify(src_url, dst_url)
    assert {(m.key, m.reason) for m in result.mismatches} == {
        ("d0/obj-00000.bin", "missing"),
        ("d1/obj-00001.bin", "size"),
    }
    assert result.extra == 1


def test_a_receipt_rechecks_the_destination_without_the_source(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, dst = _migrated(tree, tmp_path)
    receipt = tmp_path / "j.receipt.jsonl"
    sha = json.loads(
        run_cli(
            "migrate", src_url, dst_url, "--journal", str(tmp_path / "j.sqlite")
        ).stdout.splitlines()[-1]
    )["sha256"]
    done = run_cli("verify", dst_url, "--receipt", str(receipt), "--receipt-sha256", sha)
    assert done.returncode == 0, done.stdout + done.stderr
    # A rewritten object, even with the same bytes, is not the version the receipt lists.
    dst.put("d3/obj-00003.bin", dst.get("d3/obj-00003.bin"))
    done = run_cli("verify", dst_url, "--receipt", str(receipt))
    assert done.returncode == 1
    (mismatch,) = events(done.stdout, "mismatch")
    assert (mismatch["key"], mismatch["reason"]) == ("d3/obj-00003.bin", "version")
    # A tampered receipt no longer has the fingerprint that was printed.
    receipt.write_text(receipt.read_text().replace('"size":', '"size": ', 1))
    done = run_cli("verify", dst_url, "--receipt", str(receipt), "--receipt-sha256", sha)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "SHA-256" in done.stderr


def test_migrate_writes_json_lines_when_not_on_a_terminal(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, _ = tree("dst")
    fill(src, 8, seed=31)
    journal = tmp_path / "run.sqlite"
    done = run_cli("migrate", src_url, dst_url, "--journal", str(journal), "-j", "3")
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)  # every line parses
    kinds = [line["event"] for line in lines]
    assert kinds[:3] == ["journal", "phase", "plan"]
    assert lines[0]["path"] == str(journal)
    assert kinds[-2:] == ["summary", "receipt"]
    phases = [line["phase"] for line in lines if line["event"] == "phase"]
    assert phases[:3] == ["plan", "copy", "verify"]
    summary = lines[-2]
    assert (summary["copied"], summary["verified"], summary["ok"]) == (8, 8, True)
    assert lines[-1]["sha256"] == summary["receipt_sha256"]
    assert done.stderr == ""


def test_migrate_exits_non_zero_when_objects_fail(tree: Tree, tmp_path: Path) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    src.put("a", b"1")
    dst.put("a/b", b"a prefix of a key cannot also be a file here")  # file:// key_file_and_prefix
    done = run_cli("migrate", src_url, dst_url)
    assert done.returncode == 1
    failed = events(done.stdout, "failed")
    assert [f["key"] for f in failed] == ["a"]
    (summary,) = events(done.stdout, "summary")
    assert summary["ok"] is False
    assert summary["receipt"] is None


def test_a_terminal_gets_tables_a_progress_bar_and_the_receipt_fingerprint(
    tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from click.testing import CliRunner
    from rich.console import Console

    import portacloud.cli.migrate_commands as commands

    src_url, src = tree("src")
    dst_url, _ = tree("dst")
    fill(src, 5, seed=32)
    screen = io.StringIO()
    monkeypatch.setattr(commands, "out_console", Console(force_terminal=True, file=io.StringIO()))
    monkeypatch.setattr(
        commands, "err_console", Console(force_terminal=True, file=screen, width=120)
    )
    done = CliRunner().invoke(
        commands.migrate, [src_url, dst_url, "--journal", str(tmp_path / "j.sqlite")]
    )
    assert done.exit_code == 0, done.output
    assert done.output == "", "nothing on stdout on a terminal"
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    for expected in ("journal:", "plan:", "summary", "receipt sha256:"):
        assert expected in text
    assert re.search(r"copy .* 5/5 objects", text)
    assert re.search(r"verify .* 5/5 objects", text)


def test_verify_into_a_missing_place_creates_nothing(tmp_path: Path) -> None:
    """Regression: verify used to create the missing destination directory it was checking."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"x")
    missing = tmp_path / "nowhere" / "dst"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "portacloud.cli",
            "verify",
            "--json",
            src.as_uri(),
            missing.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert '"reason": "missing"' in done.stdout
    assert not (tmp_path / "nowhere").exists()

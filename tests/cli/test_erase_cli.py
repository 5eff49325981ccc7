"""``portacloud erase`` on file:// buckets: the prompt, the dry run, the receipt it prints."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cli_support import one_error_line, portacloud


def _store(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "store"
    for key in ("user-42/a.txt", "user-42/deep/b.txt", "user-420/c.txt", "user-4", "x/user-42/d"):
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.encode())
    return root, root.as_uri()


def _left(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_erase_asks_first_and_a_no_keeps_everything(tmp_path: Path) -> None:
    root, url = _store(tmp_path)
    before = _left(root)
    done = portacloud("erase", f"{url}/user-42", stdin=b"n\n", check=False)
    assert done.returncode != 0
    assert b"Erase 2 object version(s)" in done.stderr
    assert _left(root) == before


def test_erase_after_yes_at_the_prompt_prints_a_verified_receipt(tmp_path: Path) -> None:
    root, url = _store(tmp_path)
    receipt = tmp_path / "receipts" / "r.jsonl"
    done = portacloud("erase", f"{url}/user-42", "--receipt", str(receipt), stdin=b"y\n")
    err = done.stderr.decode()
    assert _left(root) == ["user-4", "user-420/c.txt", "x/user-42/d"]
    digest = hashlib.sha256(receipt.read_bytes()).hexdigest()
    assert f"receipt sha256: {digest}" in err
    assert "verified: the listings find nothing left" in err
    lines = [json.loads(line) for line in receipt.read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == ["user-42/a.txt", "user-42/deep/b.txt"]
    assert all(line["verified"] for line in lines)
    assert oct(receipt.stat().st_mode & 0o777) == "0o600"


def test_erase_dry_run_lists_and_keeps(tmp_path: Path) -> None:
    root, url = _store(tmp_path)
    before = _left(root)
    done = portacloud("erase", f"{url}/user-42/", "--dry-run")
    listed = done.stdout.decode().splitlines()
    assert [line.split()[-1] for line in listed] == ["user-42/a.txt", "user-42/deep/b.txt"]
    assert b"dry run: would erase 2 object version(s)" in done.stderr
    assert _left(root) == before


def test_erase_with_yes_writes_the_receipt_under_the_home(tmp_path: Path) -> None:
    root, url = _store(tmp_path)
    done = portacloud("erase", f"{url}/x/user-42", "--yes")
    assert "x/user-42/d" not in _left(root)
    receipt_line = next(
        line for line in done.stderr.decode().splitlines() if line.startswith("receipt: ")
    )
    receipt = Path(receipt_line.removeprefix("receipt: "))
    assert receipt.parent.name == "erase"
    assert json.loads(receipt.read_text())["key"] == "user-42/d"


def test_erase_of_a_bucket_root_needs_whole_bucket() -> None:
    line = one_error_line(portacloud("erase", "s3://some-bucket/", "--yes", check=False))
    assert "--whole-bucket" in line
    assert "s3://some-bucket/user-42/" in line


def test_erase_with_a_receipt_it_cannot_write_erases_nothing(tmp_path: Path) -> None:
    root, url = _store(tmp_path)
    before = _left(root)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    line = one_error_line(
        portacloud(
            "erase", f"{url}/user-42", "--yes", "--receipt", f"{blocker}/r.jsonl", check=False
        )
    )
    assert "cannot write the erase receipt" in line
    assert _left(root) == before


def test_erase_all_profiles_erases_the_prefix_under_every_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = []
    for name in ("eu", "us"):
        root, _ = _store(tmp_path / name)
        roots.append(root)
    config = tmp_path / "portacloud.toml"
    config.write_text(
        f'[profiles.eu]\nstorage = "{roots[0].as_uri()}"\n'
        f'[profiles.us]\nstorage = "{roots[1].as_uri()}/"\n'
        f'[profiles.us-again]\nstorage = "{roots[1].as_uri()}"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    dry = portacloud("erase", "--all-profiles", "user-42", "--dry-run")
    assert dry.stderr.decode().count("dry run: would erase 2 object version(s)") == 2
    assert all(len(_left(root)) == 5 for root in roots)

    done = portacloud("erase", "--all-profiles", "user-42", "--yes")
    err = done.stderr.decode()
    assert err.count("receipt sha256: ") == 2  # us-again names the same storage as us
    assert "(profile eu)" in err
    assert "(profile us)" in err
    for root in roots:
        assert _left(root) == ["user-4", "user-420/c.txt", "x/user-42/d"]

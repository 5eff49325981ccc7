"""Regression tests: what a careless user could damage or lose through the CLI.

Each test reproduces a defect found on an earlier main (issue 10): downloads that replaced
devices, FIFOs and symlinks; '-' taken as a file name; file:// hosts silently dropped;
memory:// accepted and forgotten; keys changed by '#'; tracebacks; temp bytes left by SIGTERM.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cli_support import EXE, one_error_line, portacloud


@pytest.fixture
def store(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


@pytest.fixture
def stored(tmp_path: Path, store: str) -> str:
    """The URL of an object holding b'payload\\n'."""
    src = tmp_path / "payload.txt"
    src.write_bytes(b"payload\n")
    portacloud("cp", str(src), f"{store}/k.txt")
    return f"{store}/k.txt"


# ---------------------------------------------------------------------- defect 1


def test_download_into_a_fifo_writes_through_it(tmp_path: Path, stored: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    portacloud("cp", stored, str(fifo))
    reader.join(timeout=30)
    assert received == [b"payload\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_download_into_a_device_keeps_the_device(tmp_path: Path, stored: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a character device needs root (CI runs as root)")
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null
    portacloud("cp", stored, str(device))
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_download_into_dev_full_is_one_error_and_keeps_the_device(stored: str) -> None:
    before = os.stat("/dev/full")
    line = one_error_line(portacloud("cp", stored, "/dev/full", check=False))
    assert "RESOURCE_EXHAUSTED" in line
    assert "/dev/full" in line
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode)
    assert after.st_rdev == before.st_rdev


def test_download_through_a_symlink_writes_its_target(tmp_path: Path, stored: str) -> None:
    real = tmp_path / "real.txt"
    real.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    portacloud("cp", stored, str(link))
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes() == b"payload\n"


def test_download_refuses_a_dangling_symlink(tmp_path: Path, stored: str) -> None:
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    line = one_error_line(portacloud("cp", stored, str(link), check=False))
    assert "dangling" in line
    assert link.is_symlink()
    assert not (tmp_path / "nowhere").exists()


def test_downloaded_files_get_the_umask_and_replaced_files_keep_their_mode(
    tmp_path: Path, stored: str
) -> None:
    old = os.umask(0o027)
    try:
        portacloud("cp", stored, str(tmp_path / "new.txt"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
    kept = tmp_path / "kept.txt"
    kept.write_bytes(b"x")
    kept.chmod(0o604)
    portacloud("cp", stored, str(kept))
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604
    assert kept.read_bytes() == b"payload\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# ---------------------------------------------------------------------- defect 2


def test_dash_is_stdout_and_stdin(tmp_path: Path, store: str, stored: str) -> None:
    assert portacloud("cp", stored, "-", cwd=tmp_path).stdout == b"payload\n"
    portacloud("cp", "-", f"{store}/from-stdin", stdin=b"streamed", cwd=tmp_path)
    assert portacloud("cat", f"{store}/from-stdin").stdout == b"streamed"
    assert not (tmp_path / "-").exists()


def test_a_reader_closed_early_ends_quietly(tmp_path: Path, store: str) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * 1024 * 1024))
    portacloud("cp", str(big), f"{store}/big.bin")
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"{' '.join(EXE)} cp {store}/big.bin - | head -c 10 >/dev/null; "
            "echo ${PIPESTATUS[0]}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == ""
    assert done.stdout.strip() in ("0", "141")


# ---------------------------------------------------------------------- defects 3, 9, 13


@pytest.mark.parametrize("command", [["cp", "SRC", "file://relative/path"], ["ls", "file://h/x"]])
def test_file_urls_with_a_host_are_refused(tmp_path: Path, command: list[str]) -> None:
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hi")
    args = [str(src) if a == "SRC" else a for a in command]
    line = one_error_line(portacloud(*args, check=False))
    assert "INVALID_ARGUMENT" in line
    assert "file:///abs/path" in line
    assert not Path("/path").exists()


@pytest.mark.parametrize(
    "command",
    [["cp", "SRC", "memory://s/x"], ["ls", "memory://s"], ["migrate", "memory://a", "memory://b"]],
)
def test_memory_urls_are_refused_by_the_cli(tmp_path: Path, command: list[str]) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    args = [str(src) if a == "SRC" else a for a in command]
    line = one_error_line(portacloud(*args, check=False))
    assert "memory://" in line
    assert "one process" in line


def test_keys_are_taken_exactly_as_typed(tmp_path: Path, store: str) -> None:
    src = tmp_path / "f.txt"
    src.write_bytes(b"x")
    done = portacloud("cp", str(src), f"{store}/h#frag.txt")
    assert f"{store}/h#frag.txt" in done.stderr.decode()
    assert portacloud("ls", "-r", store).stdout.split() == [b"h#frag.txt"]
    assert portacloud("cat", f"{store}/h#frag.txt").stdout == b"x"
    # The file backend cannot hold an empty segment; it says so rather than writing 'a/b.txt'.
    line = one_error_line(portacloud("cp", str(src), f"{store}/a//b.txt", check=False))
    assert "INVALID_ARGUMENT" in line
    assert portacloud("ls", "-r", store).stdout.split() == [b"h#frag.txt"]


def test_api_keeps_hash_in_object_urls() -> None:
    from portacloud.openers import open_object

    bucket, key = open_object("memory://hash-test/h#frag.txt")
    with bucket:
        assert key == "h#frag.txt"


# ---------------------------------------------------------------------- defect 7


def test_download_to_bad_places_is_one_line(tmp_path: Path, stored: str) -> None:
    existing = tmp_path / "existing-file"
    existing.write_bytes(b"keep")
    for dest in ("/no/such/dir/x", f"{existing}/x", "/proc/version"):
        line = one_error_line(portacloud("cp", stored, dest, check=False))
        assert line.startswith("error: [")
    assert existing.read_bytes() == b"keep"
    assert not Path("/no/such/dir").exists()


# ---------------------------------------------------------------------- defect 8


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_upload_leaves_nothing_behind(tmp_path: Path, signum: signal.Signals) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(48):
            f.write(os.urandom(4 * 1024 * 1024))
    root = tmp_path / "dest"
    child = subprocess.Popen(
        [*EXE, "cp", str(big), f"{root.as_uri()}/big.bin"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _bytes_under(root) < 8 * 1024 * 1024:
        if child.poll() is not None:
            pytest.fail(f"the upload ended before it could be interrupted: {child.stderr}")
        time.sleep(0.01)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum, err
    assert b"Traceback" not in err
    assert b"terminated by" in err
    assert _bytes_under(root) < 64 * 1024, sorted(root.rglob("*"))
    assert not (root / "big.bin").exists()


def _bytes_under(root: Path) -> int:
    total = 0
    for path in root.rglob("*") if root.exists() else []:
        try:
            if path.is_file():
                total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def test_mv_onto_itself_is_refused_and_keeps_the_object(tmp_path: Path, stored: str) -> None:
    """Regression: mv URL URL copied the object onto itself, then deleted it."""
    store = stored.rsplit("/", 1)[0]
    for dst in (stored, f"{store}/"):
        line = one_error_line(portacloud("mv", stored, dst, check=False))
        assert "same object" in line
    assert "same object" in one_error_line(
        portacloud("mv", f"{store}/*.txt", f"{store}/", check=False)
    )
    assert portacloud("cat", stored).stdout == b"payload\n"

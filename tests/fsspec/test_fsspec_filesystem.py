"""The portacloud fsspec filesystem's own behaviour: fast paths, errors, caches, registration.

Runs on memory:// and file:// (no server); the abstract suite covers the servers.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

import portacloud
from portacloud.errors import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)
from portacloud.fsspec import PortaCloudFileSystem, filesystem
from portacloud.fsspec.errors import as_os_error


@pytest.fixture(params=["memory", "file"])
def pfs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PortaCloudFileSystem]:
    url = f"memory://t-{time.monotonic_ns()}" if request.param == "memory" else tmp_path.as_uri()
    fs = PortaCloudFileSystem(storage=url, skip_instance_cache=True)
    yield fs
    fs.bucket.close()


class Spy:
    """Counts calls of one Bucket method (set on the instance, so nothing needs undoing)."""

    def __init__(self, obj: Any, name: str, delay: float = 0.0) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.ranges: list[Any] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        original: Callable[..., Any] = getattr(obj, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls.append(args)
                self.ranges.append(kwargs.get("range"))
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                time.sleep(delay)
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.in_flight -= 1

        setattr(obj, name, wrapper)


# ---------------------------------------------------------------------- registration


def test_import_portacloud_imports_neither_fsspec_nor_pydantic() -> None:
    code = (
        "import sys, portacloud; "
        "print(sorted(m for m in ('fsspec', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("protocol", ["portacloud", "pc"])
def test_protocols_are_registered_through_the_entry_point(protocol: str, tmp_path: Path) -> None:
    assert fsspec.get_filesystem_class(protocol) is PortaCloudFileSystem
    fs = fsspec.filesystem(protocol, storage=tmp_path.as_uri())
    fs.pipe_file("x", b"1")
    assert (tmp_path / "x").read_bytes() == b"1"


def _write_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    default, other = tmp_path / "default-store", tmp_path / "other-store"
    config = tmp_path / "portacloud.toml"
    config.write_text(
        f'[profiles.default]\nstorage = "{default.as_uri()}"\n'
        f'[profiles.other]\nstorage = "{other.as_uri()}"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    return default, other


def test_portacloud_urls_follow_the_active_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default, other = _write_profiles(tmp_path, monkeypatch)
    with fsspec.open("portacloud://runs/1/x.txt", "w") as f:
        f.write("default")
    with fsspec.open("pc://runs/1/x.txt", "w", profile="other") as f:
        f.write("other")
    assert (default / "runs/1/x.txt").read_text() == "default"
    assert (other / "runs/1/x.txt").read_text() == "other"
    monkeypatch.setenv("PORTACLOUD_PROFILE", "other")
    fs, path = fsspec.core.url_to_fs("portacloud://runs/1/x.txt")
    assert path == "runs/1/x.txt"
    assert fs.cat_file(path) == b"other"
    explicit, _ = fsspec.core.url_to_fs("portacloud://k", storage=default.as_uri())
    assert explicit.cat_file("runs/1/x.txt") == b"default"


def test_storage_profile_and_bucket_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="storage and profile"):
        PortaCloudFileSystem(storage=tmp_path.as_uri(), profile="x")


def test_filesystem_wraps_an_open_bucket(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    fs = filesystem(bucket)
    assert fs.bucket is bucket
    fs.pipe_file("a", b"1")
    assert bucket.get("a") == b"1"
    assert filesystem(tmp_path.as_uri()).cat_file("a") == b"1"
    assert bucket.fs.bucket is bucket


# ---------------------------------------------------------------------- fast paths


def test_info_is_one_head(pfs: PortaCloudFileSystem) -> None:
    pfs.bucket.put("d/f.csv", b"a,b\n", content_type="text/csv")
    head, listing = Spy(pfs.bucket, "head"), Spy(pfs.bucket, "list")
    info = pfs.info("d/f.csv")
    assert (len(head.calls), len(listing.calls)) == (1, 0)
    stored = pfs.bucket.head("d/f.csv")
    assert info["size"] == 4
    assert info["type"] == "file"
    assert info["ETag"] == stored.etag
    assert info["LastModified"] == stored.last_modified
    assert info["ContentType"] == "text/csv"
    assert info["crc32c"] == stored.crc32c
    assert pfs.ukey("d/f.csv") == stored.etag
    assert pfs.checksum("d/f.csv") == int(stored.crc32c or "", 16)
    assert pfs.modified("d/f.csv") == stored.last_modified


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, b"0123456789"),
        (2, 5, b"234"),
        (-3, None, b"789"),
        (-4, -1, b"678"),
        (8, None, b"89"),
        (20, None, b""),
        (None, 3, b"012"),
    ],
)
def test_cat_file_ranges(
    pfs: PortaCloudFileSystem, start: int | None, end: int | None, expected: bytes
) -> None:
    pfs.pipe_file("r", b"0123456789")
    assert pfs.cat_file("r", start, end) == expected


def test_cat_ranges_runs_concurrently_and_returns_errors(pfs: PortaCloudFileSystem) -> None:
    for i in range(8):
        pfs.pipe_file(f"p/{i}", bytes([65 + i]) * 10)
    spy = Spy(pfs.bucket, "get", delay=0.05)
    paths = [f"p/{i}" for i in range(8)] + ["p/missing"]
    out = pfs.cat_ranges(paths, [0] * 9, [3] * 9)
    assert out[:8] == [bytes([65 + i]) * 3 for i in range(8)]
    assert isinstance(out[8], FileNotFoundError)
    assert spy.max_in_flight > 1
    with pytest.raises(FileNotFoundError):
        pfs.cat_ranges(paths, 0, 3, on_error="raise")


def test_cat_of_many_paths_is_concurrent(pfs: PortaCloudFileSystem) -> None:
    for i in range(6):
        pfs.pipe_file(f"many/{i}", str(i).encode())
    spy = Spy(pfs.bucket, "get", delay=0.05)
    assert pfs.cat("many/*") == {f"many/{i}": str(i).encode() for i in range(6)}
    assert spy.max_in_flight > 1
    assert pfs.cat("many/1") == b"1"
    with pytest.raises(FileNotFoundError):
        pfs.cat(["many/1", "many/missing"])
    assert pfs.cat(["many/1", "many/missing"], on_error="omit") == {"many/1": b"1"}


@pytest.mark.parametrize(
    "cache_type", ["portacloud-sequential", "readahead", "none", "bytes", "blockcache", "all"]
)
def test_open_reads_with_every_cache_type(pfs: PortaCloudFileSystem, cache_type: str) -> None:
    data = bytes(range(256)) * 64
    pfs.pipe_file("blob", data)
    with pfs.open("blob", "rb", block_size=1000, cache_type=cache_type) as f:
        assert f.read(10) == data[:10]
        f.seek(-100, 2)
        assert f.read() == data[-100:]
        f.seek(5000)
        assert f.read(3000) == data[5000:8000]


def test_default_cache_reads_ahead_only_when_sequential(pfs: PortaCloudFileSystem) -> None:
    pfs.pipe_file("blob", bytes(100_000))
    spy = Spy(pfs.bucket, "get")
    with pfs.open("blob", "rb", block_size=10_000) as f:
        f.seek(-1000, 2)
        f.read()  # a footer: exactly its bytes
        f.seek(50_000)
        f.read(500)  # a jump: exactly its bytes
        f.read(500)  # reading on: one block ahead
        f.read(5000)  # served from that block
    assert spy.ranges == [(99_000, 100_000), (50_000, 50_500), (50_500, 61_000)]
    spy.ranges.clear()
    with pfs.open("blob", "rb", block_size=100_000) as f:
        f.seek(-10, 2)
        assert f.read() == bytes(10)
        f.seek(20)
        assert f.read(30) == bytes(30)
    assert spy.ranges == [(0, 100_000)]  # no bigger than a block: one request


def test_text_mode_round_trip(pfs: PortaCloudFileSystem) -> None:
    with pfs.open("t.txt", "w", encoding="utf-8") as f:
        f.write("héllo\nwörld\n")
    with pfs.open("t.txt", "r", encoding="utf-8") as f:
        assert f.readlines() == ["héllo\n", "wörld\n"]


def test_write_in_blocks_and_discard_on_error(pfs: PortaCloudFileSystem) -> None:
    data = b"x" * 3_000_000
    with pfs.open("big", "wb", block_size=1_000_000) as f:
        for i in range(0, len(data), 700_000):
            f.write(data[i : i + 700_000])
    assert pfs.cat_file("big") == data

    def fail_midway() -> None:
        with pfs.open("failed", "wb", block_size=1_000_000) as f:
            f.write(b"y" * 2_500_000)  # two blocks already sent
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert not pfs.exists("failed")


def test_create_only_writes_raise_file_exists(pfs: PortaCloudFileSystem) -> None:
    pfs.pipe_file("c", b"1", mode="create")
    with pytest.raises(FileExistsError) as caught:
        pfs.pipe_file("c", b"2", mode="create")
    assert isinstance(caught.value.__cause__, FailedPreconditionError)
    with pytest.raises(FileExistsError):
        pfs.open("c", "xb")
    with pfs.open("new", "xb") as f:
        f.write(b"n")
    assert pfs.cat_file("c") + pfs.cat_file("new") == b"1n"


def test_create_only_is_refused_up_front_without_the_capability(
    pfs: PortaCloudFileSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    caps = pfs.bucket.capabilities.model_copy(update={"write_with_if_none_match": False})
    monkeypatch.setattr(type(pfs.bucket), "capabilities", property(lambda self: caps))
    with pytest.raises(NotImplementedError, match="write_with_if_none_match"):
        pfs.open("x", "xb")
    with pytest.raises(NotImplementedError, match="write_with_if_none_match"):
        pfs.pipe_file("x", b"1", mode="create")
    assert not pfs.exists("x")


def test_transactions_commit_on_success_and_discard_on_error(pfs: PortaCloudFileSystem) -> None:
    with pfs.transaction:
        with pfs.open("t/1", "wb") as f:
            f.write(b"x")
        assert not pfs.exists("t/1")  # not before the transaction ends
    assert pfs.cat_file("t/1") == b"x"

    def failing_transaction() -> None:
        with pfs.transaction:
            with pfs.open("t/2", "wb") as f:
                f.write(b"y")
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError):
        failing_transaction()
    assert not pfs.exists("t/2")


def test_create_only_race_has_one_winner(pfs: PortaCloudFileSystem) -> None:
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            pfs.pipe_file("race", str(i).encode(), mode="create")
            wins.append(i)
        except FileExistsError:
            pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert pfs.cat_file("race") == str(wins[0]).encode()


def test_put_and_get_file_stream_with_progress(pfs: PortaCloudFileSystem, tmp_path: Path) -> None:
    src, dst = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    src.write_bytes(b"z" * 2_500_000)
    pfs.blocksize = 1_000_000
    sent, received = fsspec.callbacks.Callback(), fsspec.callbacks.Callback()
    pfs.put_file(str(src), "up/src.bin", callback=sent)
    pfs.get_file("up/src.bin", str(dst), callback=received)
    assert dst.read_bytes() == src.read_bytes()
    assert (sent.size, sent.value) == (2_500_000, 2_500_000)
    assert (received.size, received.value) == (2_500_000, 2_500_000)


def test_put_and_get_file_hold_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    fs = PortaCloudFileSystem(storage=(tmp_path / "store").as_uri(), block_size=1 << 20)
    src, dst = tmp_path / "big.bin", tmp_path / "back.bin"
    with open(src, "wb") as f:
        for i in range(24):
            f.write(bytes([i]) * (1 << 20))
    tracemalloc.start()
    try:
        fs.put_file(str(src), "big.bin")
        fs.get_file("big.bin", str(dst))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dst.read_bytes() == src.read_bytes()
    assert peak < 12 << 20  # 24 MiB went through; never more than a few blocks held


def test_async_wrapper_for_zarr_and_friends(pfs: PortaCloudFileSystem) -> None:
    import asyncio

    from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

    pfs.pipe_file("a", b"0123456789")
    pfs.pipe_file("b", b"abcdefghij")
    afs = AsyncFileSystemWrapper(pfs, asynchronous=True)

    async def reads() -> tuple[bytes, list[bytes]]:
        tail = await afs._cat_file("a", start=-3)
        ranges = await afs._cat_ranges(["a", "b"], [0, 2], [2, 5])
        return tail, ranges

    assert asyncio.run(reads()) == (b"789", [b"01", b"cde"])


def test_rm_recursive_is_one_delete_many(pfs: PortaCloudFileSystem) -> None:
    for key in ("d/a", "d/b/c", "d/b/e/f", "keep"):
        pfs.pipe_file(key, b"1")
    spy, single = Spy(pfs.bucket, "delete_many"), Spy(pfs.bucket, "delete")
    pfs.rm("d", recursive=True)
    assert len(spy.calls) == 1
    assert sorted(spy.calls[0][0]) == ["d/a", "d/b/c", "d/b/e/f"]
    assert single.calls == []
    assert pfs.find("") == ["keep"]


def test_cp_file_is_server_side(pfs: PortaCloudFileSystem) -> None:
    pfs.bucket.put("src", b"payload", content_type="text/plain")
    spy = Spy(pfs.bucket, "copy")
    pfs.cp_file("src", "dst")
    assert spy.calls == [("src", "dst")]
    assert pfs.info("dst")["ContentType"] == "text/plain"


def test_directories_are_inferred_from_keys(pfs: PortaCloudFileSystem) -> None:
    for key, size in (("a/b/c.txt", 3), ("a/b/d.txt", 4), ("a/e.txt", 5), ("top", 1)):
        pfs.pipe_file(key, b"x" * size)
    assert pfs.ls("", detail=False) == ["a", "top"]
    assert sorted(pfs.ls("a", detail=False)) == ["a/b", "a/e.txt"]
    assert pfs.isdir("a/b")
    assert pfs.info("a/b")["type"] == "directory"
    assert pfs.find("a") == ["a/b/c.txt", "a/b/d.txt", "a/e.txt"]
    assert pfs.find("a", withdirs=True) == ["a", "a/b", "a/b/c.txt", "a/b/d.txt", "a/e.txt"]
    assert pfs.glob("a/**/*.txt") == ["a/b/c.txt", "a/b/d.txt", "a/e.txt"]
    assert pfs.glob("a/*/c.*") == ["a/b/c.txt"]
    assert pfs.du("a") == 12
    assert pfs.du("a", total=False) == {"a/b/c.txt": 3, "a/b/d.txt": 4, "a/e.txt": 5}
    walked = {root: (sorted(dirs), sorted(files)) for root, dirs, files in pfs.walk("a")}
    assert walked == {"a": (["b"], ["e.txt"]), "a/b": ([], ["c.txt", "d.txt"])}
    assert pfs.ls("top", detail=False) == ["top"]  # a file lists as itself


def test_listings_cache_is_used_and_invalidated_by_writes(pfs: PortaCloudFileSystem) -> None:
    pfs.pipe_file("d/one", b"1")
    assert pfs.ls("d", detail=False) == ["d/one"]
    spy = Spy(pfs.bucket, "list")
    assert pfs.ls("d", detail=False) == ["d/one"]
    assert spy.calls == []  # served from the cache
    pfs.pipe_file("d/sub/two", b"2")
    assert pfs.ls("d", detail=False) == ["d/sub", "d/one"]
    assert pfs.ls("", detail=False) == ["d"]
    with pfs.open("d/three", "wb") as f:
        f.write(b"3")
    assert "d/three" in pfs.ls("d", detail=False)
    pfs.rm("d/one")
    assert "d/one" not in pfs.ls("d", detail=False)
    pfs.bucket.put("d/behind-its-back", b"4")
    assert "d/behind-its-back" not in pfs.ls("d", detail=False)
    assert "d/behind-its-back" in pfs.ls("d", detail=False, refresh=True)


def test_instances_of_other_threads_share_the_listings_cache(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = tmp_path.as_uri()
    main = fsspec.filesystem("portacloud", storage=url)
    main.pipe_file("d/one", b"1")

    def listing() -> list[str]:
        # fsspec gives each thread its own instance of a sync filesystem.
        other = fsspec.filesystem("portacloud", storage=url)
        assert other is not main
        return sorted(other.ls("d", detail=False))

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(listing).result() == ["d/one"]
        main.pipe_file("d/two", b"2")  # invalidates the listing the other thread cached
        assert pool.submit(listing).result() == ["d/one", "d/two"]


# ---------------------------------------------------------------------- errors


def test_missing_paths_raise_file_not_found_with_the_cause(pfs: PortaCloudFileSystem) -> None:
    for call in (
        lambda: pfs.cat_file("nope"),
        lambda: pfs.info("nope"),
        lambda: pfs.open("nope", "rb"),
        lambda: pfs.ls("nope"),
    ):
        with pytest.raises(FileNotFoundError):
            call()
    with pytest.raises(FileNotFoundError) as caught:
        pfs.cat_file("nope")
    assert isinstance(caught.value.__cause__, NotFoundError)
    assert caught.value.filename == "nope"


def test_directories_are_not_files(pfs: PortaCloudFileSystem) -> None:
    pfs.pipe_file("dir/f", b"1")
    with pytest.raises(IsADirectoryError):
        pfs.cat_file("dir")
    with pytest.raises(IsADirectoryError):
        pfs.open("dir", "rb")


def test_writing_under_a_file_on_file_storage(tmp_path: Path) -> None:
    fs = PortaCloudFileSystem(storage=tmp_path.as_uri(), skip_instance_cache=True)
    fs.pipe_file("f", b"1")
    with pytest.raises(NotADirectoryError) as caught:
        fs.pipe_file("f/under", b"2")
    assert isinstance(caught.value.__cause__, FailedPreconditionError)


def test_error_table() -> None:
    denied = as_os_error(PermissionDeniedError("no"), "k")
    assert isinstance(denied, PermissionError)
    assert denied.__cause__ is not None
    assert as_os_error(UnavailableError("later"), "k") is None


def test_append_is_refused(pfs: PortaCloudFileSystem) -> None:
    with pytest.raises(NotImplementedError, match="mode 'ab'"):
        pfs.open("a", "ab")

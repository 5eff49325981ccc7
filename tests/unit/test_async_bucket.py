"""AsyncBucket: what the blocking conformance face cannot see (the loop, the pool, streams)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import portacloud
from portacloud.errors import InvalidArgumentError, NotFoundError


def test_gathered_calls_share_a_bounded_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = portacloud.open_async_bucket("memory://async-pool", max_workers=3)
    running, peak, lock = 0, 0, threading.Lock()
    blocking_get = bucket.bucket.get

    def slow_get(key: str, **kwargs: object) -> bytes:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return blocking_get(key)

    async def main() -> list[bytes]:
        async with bucket:
            await asyncio.gather(*(bucket.put(f"k{i}", b"%d" % i) for i in range(20)))
            monkeypatch.setattr(bucket.bucket, "get", slow_get)
            return await asyncio.gather(*(bucket.get(f"k{i}") for i in range(20)))

    assert asyncio.run(main()) == [b"%d" % i for i in range(20)]
    assert peak == 3


def test_the_event_loop_keeps_running_during_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = portacloud.open_async_bucket("memory://async-loop")
    monkeypatch.setattr(bucket.bucket, "head", lambda key: time.sleep(0.3))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> None:
        task = asyncio.create_task(ticker())
        await bucket.head("k")
        task.cancel()
        await bucket.aclose()

    asyncio.run(main())
    assert ticks >= 10


async def _chunks(fail_after: int | None = None) -> AsyncIterator[bytes]:
    for i in range(3):
        if fail_after is not None and i == fail_after:
            raise RuntimeError("source broke")
        await asyncio.sleep(0)
        yield bytes([65 + i]) * 1000


def test_put_streams_an_async_iterable_and_a_broken_one_leaves_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with portacloud.open_async_bucket(tmp_path.as_uri()) as bucket:
            info = await bucket.put("whole", _chunks())
            assert info.size == 3000
            assert await bucket.get("whole") == b"A" * 1000 + b"B" * 1000 + b"C" * 1000
            with pytest.raises(RuntimeError, match="source broke"):
                await bucket.put("broken", _chunks(fail_after=2))
            assert not await bucket.exists("broken")

    asyncio.run(main())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole"]  # no temp bytes either


def test_open_is_awaitable_and_an_async_context_manager() -> None:
    async def main() -> None:
        async with portacloud.open_async_bucket("memory://async-open") as bucket:
            async with bucket.open("f", "wb", content_type="text/plain") as out:
                await out.write(b"hello ")
                await out.write(b"world")
            assert out.info is not None
            assert out.info.size == 11

            async def write_then_fail() -> None:
                async with bucket.open("discarded", "wb") as half:
                    await half.write(b"half")
                    raise ValueError("changed my mind")

            with pytest.raises(ValueError, match="changed my mind"):
                await write_then_fail()
            assert not await bucket.exists("discarded")
            reader = await bucket.open("f")
            assert await reader.read(5) == b"hello"
            await reader.seek(6)
            assert b"".join([chunk async for chunk in reader]) == b"world"
            await reader.aclose()

    asyncio.run(main())


def test_list_checks_its_arguments_at_once_and_pages_lazily() -> None:
    async def main() -> None:
        async with portacloud.open_async_bucket("memory://async-list") as bucket:
            with pytest.raises(InvalidArgumentError, match="page_size"):
                bucket.list(page_size=0)  # no await: raised when called, as Bucket.list does
            await asyncio.gather(*(bucket.put(f"k{i:02}", b"") for i in range(25)))
            keys = [e.key async for e in bucket.list(page_size=10)]
            assert keys == [f"k{i:02}" for i in range(25)]
            with pytest.raises(NotFoundError):
                await bucket.get("missing")
            assert not bucket.capabilities.native_async

    asyncio.run(main())


def test_max_workers_is_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="max_workers"):
        portacloud.open_async_bucket("memory://async-bad", max_workers=0)

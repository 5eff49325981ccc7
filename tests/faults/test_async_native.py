"""The native async path of AsyncBucket (engine=obstore) under faults: one retry owner, one winner.

On the obstore engine (the default of ``s3`` and ``azure``) ``AsyncBucket.get`` and ``head``
(and on S3 ``put`` of bytes, ``delete`` and listings) are coroutines on obstore's async API, not
the blocking bucket on threads: each test checks that no thread pool was started. A fault
aimed at one request must cost exactly one more request and one retry in the retry log (the
asyncio loop of the same RetryPolicy); a conditional write whose answer was lost is never
reported as a lost race; and create-only writes gathered at once have exactly one winner.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from backends import Backend, backend
from conftest import SEED, RetryLog
from proxy import Decision, FaultKind, FaultProxy, Scripted

import portacloud

pytestmark = pytest.mark.usefixtures("backend_env")

NATIVE_READS = ("s3", "azure")
#: Azure's writes stay on the SDK (their Content-MD5), so they run on the thread pool.
NATIVE_WRITES = ("s3",)
CONTENDERS = 16
ROUNDS = 4


def _open(be: Backend, container: str, endpoint: str) -> portacloud.AsyncBucket:
    bucket = portacloud.open_async_bucket(be.url(container, endpoint))
    assert bucket.capabilities.native_async
    return bucket


def _on_threads(bucket: portacloud.AsyncBucket) -> bool:
    """Whether any call of ``bucket`` ran on its thread pool (the pool starts on first use)."""
    return bucket._pool._executor is not None


def _count(be: Backend, proxy: FaultProxy, *, uploads: bool) -> int:
    matches = be.upload_filter if uploads else be.body_filter
    return sum(1 for r in proxy.records if matches(r.method, r.path, r.query))


@pytest.mark.parametrize("name", NATIVE_READS)
@pytest.mark.parametrize("kind", [FaultKind.THROTTLE_503, FaultKind.RESET, FaultKind.TRUNCATE])
def test_a_failed_read_costs_one_retry(name: str, kind: FaultKind, retry_log: RetryLog) -> None:
    be = backend(name)
    data = random.Random(SEED).randbytes(256 * 1024)
    with be.container() as container:
        be.open(container, be.upstream).put("k", data)
        script = Scripted([(be.body_filter, Decision(kind, cut=0.5))])
        with FaultProxy(
            be.upstream, dialect=be.dialect, schedule=script, body_filter=be.body_filter
        ) as proxy:

            async def read() -> tuple[bytes, bool]:
                async with _open(be, container, proxy.url) as bucket:
                    got = await bucket.get("k")
                    return got, _on_threads(bucket)

            before = retry_log.count
            got, threaded = asyncio.run(read())
            assert got == data
            assert not threaded, "the read ran on the thread pool, not natively"
            assert proxy.faults()[kind.value] == 1
            assert retry_log.count - before == 1
            assert _count(be, proxy, uploads=False) == 2


@pytest.mark.parametrize("name", NATIVE_WRITES)
def test_a_throttled_write_costs_one_retry(name: str, retry_log: RetryLog) -> None:
    be = backend(name)
    with be.container() as container:
        script = Scripted([(be.upload_filter, Decision(FaultKind.THROTTLE_503))])
        with FaultProxy(
            be.upstream, dialect=be.dialect, schedule=script, upload_filter=be.upload_filter
        ) as proxy:

            async def write() -> tuple[portacloud.ObjectInfo, bool]:
                async with _open(be, container, proxy.url) as bucket:
                    info = await bucket.put("k", b"x" * 1000, metadata={"m": "v"})
                    return info, _on_threads(bucket)

            info, threaded = asyncio.run(write())
            assert not threaded
            assert proxy.faults()["throttle_503"] == 1
            assert _count(be, proxy, uploads=True) == 2
        assert retry_log.count == 1
        stored = be.open(container, be.upstream).head("k")
        assert stored.etag == info.etag
        assert stored.crc32c == info.crc32c
        assert stored.metadata == {"m": "v"}


def _lost_answer(be: Backend) -> FaultProxy:
    """A proxy that resets the answer to the first upload half-way: the server applies it."""
    script = Scripted([(be.upload_filter, Decision(FaultKind.RESET, cut=0.5))])
    return FaultProxy(
        be.upstream, dialect=be.dialect, schedule=script, upload_filter=be.upload_filter
    )


@pytest.mark.parametrize("name", NATIVE_WRITES)
@pytest.mark.parametrize("condition", ["if_none_match", "if_match"])
def test_a_lost_answer_is_never_a_lost_race(name: str, condition: str) -> None:
    be = backend(name)
    ours = b"written by this caller"
    with be.container() as container, _lost_answer(be) as proxy:
        direct = be.open(container, be.upstream)
        etag = direct.put("k", b"before").etag if condition == "if_match" else None
        given = {"if_match": etag} if etag else {"if_none_match": "*"}

        async def write() -> portacloud.UnavailableError | None:
            async with _open(be, container, proxy.url) as bucket:
                try:
                    await bucket.put("k", ours, **given)
                except portacloud.FailedPreconditionError as exc:
                    pytest.fail(f"the write won but was reported as a lost race: {exc}")
                except portacloud.UnavailableError as exc:
                    return exc
                finally:
                    assert not _on_threads(bucket)
            return None

        unknown = asyncio.run(write())
        # Honest: the outcome is unknown to the caller, and retrying would not help.
        assert unknown is None or not unknown.retryable
        assert proxy.faults()["reset"] == 1
        assert direct.get("k") == ours


async def _race(bucket: portacloud.AsyncBucket, key: str, **condition: str) -> list[int]:
    """Indices of the contenders whose write of ``key`` won; every loser must see
    FAILED_PRECONDITION."""

    async def contender(i: int) -> int | None:
        try:
            await bucket.put(key, f"contender {i}".encode(), **condition)
        except portacloud.FailedPreconditionError:
            return None
        return i

    found = await asyncio.gather(*(contender(i) for i in range(CONTENDERS)))
    return [i for i in found if i is not None]


@pytest.mark.parametrize("name", NATIVE_WRITES)
def test_gathered_conditional_writes_have_one_winner(name: str) -> None:
    be = backend(name)
    with be.container() as container:

        async def rounds() -> None:
            async with _open(be, container, be.upstream) as bucket:
                for round_ in range(ROUNDS):
                    key = f"race/{round_:02d}"
                    if round_ % 2:
                        etag = (await bucket.put(key, b"start")).etag
                        assert etag is not None
                        winners = await _race(bucket, key, if_match=etag)
                    else:
                        winners = await _race(bucket, key, if_none_match="*")
                    assert len(winners) == 1, (key, winners)
                    assert await bucket.get(key) == f"contender {winners[0]}".encode()
                assert not _on_threads(bucket)

        asyncio.run(rounds())

"""Concurrent writers: threads and processes see atomic objects and one create-only winner."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import portacloud
from portacloud_conformance.support import payload, require


def test_parallel_puts_of_distinct_keys(bucket: portacloud.Bucket) -> None:
    def put(i: int) -> None:
        bucket.put(f"p/{i:03d}", payload(2048, seed=i))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(64)))
    assert [e.key for e in bucket.list("p/")] == [f"p/{i:03d}" for i in range(64)]
    assert bucket.get("p/007") == payload(2048, seed=7)


def test_readers_never_see_a_torn_object(bucket: portacloud.Bucket) -> None:
    versions = [bytes([v]) * 200_000 for v in range(6)]
    bucket.put("torn", versions[0])

    def write(v: int) -> None:
        bucket.put("torn", versions[v])

    def read(_: int) -> bytes:
        return bucket.get("torn")

    with ThreadPoolExecutor(6) as pool:
        writes = pool.map(write, range(1, 6))
        reads = list(pool.map(read, range(30)))
        list(writes)
    for body in reads:
        assert body in versions


def _create_only(url: str, key: str, i: int) -> bool:
    bucket = portacloud.open_bucket(url)
    try:
        bucket.put(key, f"process {i}".encode(), if_none_match="*")
    except portacloud.FailedPreconditionError:
        return False
    return True


def test_create_only_race_across_processes(bucket: portacloud.Bucket) -> None:
    require(bucket, "write_with_if_none_match")
    require(bucket, "cross_process_atomic")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        for round_ in range(2):
            key = f"xproc-{round_}"
            wins = pool.starmap(_create_only, [(bucket.url, key, i) for i in range(4)])
            assert sum(wins) == 1, f"round {round_}: {wins}"

"""Buckets on the obstore engine keep working in processes forked after obstore ran.

obstore's tokio runtime does not survive ``fork()``: before the fix, a ``fork`` process pool
(``ProcessPoolExecutor``, PyTorch ``DataLoader`` workers, dask's process scheduler) hung on the
first read, whether its bucket was pickled in or inherited. A child that freed an obstore object
it inherited hung too, now and then (CI, 2026-12-06: one worker in a whole run), on a lock of
the parent's runtime held as it forked. Every wait here has a deadline and every child takes
signals the default way, so a hang fails the test instead of blocking the run.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from azure_support import azurite_connection_string, fresh_container
from s3_support import fresh_bucket, isolate_aws_env, s3_endpoint

import portacloud

pytestmark = pytest.mark.integration

DEADLINE = 60
_R = TypeVar("_R")
#: The bucket a forked child inherits from its parent's memory (set before the pool forks).
_INHERITED: list[portacloud.Bucket] = []


def _default_signals() -> None:
    # pytest-timeout's SIGALRM handler and any SIGTERM handler run only between bytecodes,
    # so a child waiting in native code would outlive both its alarm and Pool.terminate().
    for signum in (signal.SIGALRM, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def _work(bucket: portacloud.Bucket, key: str) -> tuple[bytes, int, list[str]]:
    signal.alarm(DEADLINE)  # a hung child dies instead of holding the pool
    bucket.put(f"{key}-child", b"from a child")
    data = bucket.get(key)
    size = bucket.head(f"{key}-child").size
    keys = [info.key for info in bucket.list("fork/")]
    bucket.delete(f"{key}-child")
    return data, size, keys


def _pickled(bucket: portacloud.Bucket, key: str) -> tuple[bytes, int, list[str]]:
    return _work(bucket, key)


def _inherited(key: str) -> tuple[bytes, int, list[str]]:
    return _work(_INHERITED[0], key)


def _run_in_fork_pool(
    fn: Callable[..., _R], args: list[tuple[Any, ...]], processes: int
) -> list[_R]:
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_default_signals)
    try:
        results: list[_R] = pool.starmap_async(fn, args).get(timeout=DEADLINE)
    finally:
        pool.terminate()
        pool.join()
    return results


def _check_in_fork_pool(bucket: portacloud.Bucket) -> None:
    keys = ["fork/a", "fork/b"]
    for key in keys:
        bucket.put(key, key.encode())
    assert bucket.get("fork/a") == b"fork/a"  # obstore has run in this process
    _INHERITED[:] = [bucket]
    try:
        # Pickled into each worker (ProcessPoolExecutor's way), two at once; inherited from
        # the parent's memory (a DataLoader's dataset), one worker: siblings sharing the
        # parent's pooled connections at once is unsafe with any HTTP client.
        runs = [
            _run_in_fork_pool(_pickled, [(bucket, k) for k in keys], 2),
            _run_in_fork_pool(_inherited, [(k,) for k in keys], 1),
        ]
    finally:
        _INHERITED.clear()
    for results in runs:
        for key, (data, size, listed) in zip(keys, results, strict=True):
            assert data == key.encode()
            assert size == len(b"from a child")
            assert set(keys) <= set(listed)
    assert [info.key for info in bucket.list("fork/")] == keys


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[portacloud.Bucket]:
    isolate_aws_env(monkeypatch)
    endpoint = s3_endpoint("seaweedfs")
    with fresh_bucket(endpoint) as name:
        bucket = portacloud.open_bucket(f"s3://{name}?endpoint_url={endpoint}")
        yield bucket
        bucket.close()


def test_s3_default_engine_works_in_a_fork_pool(s3_bucket: portacloud.Bucket) -> None:
    assert not s3_bucket.capabilities.retry_after  # the obstore engine
    _check_in_fork_pool(s3_bucket)


def test_azure_default_engine_works_in_a_fork_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = azurite_connection_string()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    with fresh_container(conn) as name:
        bucket = portacloud.open_bucket(f"az://{name}")
        assert not bucket.capabilities.retry_after  # the obstore engine
        _check_in_fork_pool(bucket)
        bucket.close()


def _drop_inherited() -> bool:
    """In a child: free the inherited bucket; whether its obstore store is still alive."""
    bucket = _INHERITED.pop()
    driver: Any = bucket._driver
    store = weakref.ref(driver.store)
    del driver
    bucket.close()
    del bucket
    gc.collect()
    return store() is not None


def test_a_forked_child_never_frees_the_obstore_objects_it_inherited(
    s3_bucket: portacloud.Bucket,
) -> None:
    # Reached only through _INHERITED (and a cycle), so the child can free all of it.
    inherited = portacloud.open_bucket(s3_bucket.url)
    inherited.put("fork/x", b"x")
    cycle: dict[str, object] = {"bucket": inherited}
    cycle["self"] = cycle
    _INHERITED[:] = [inherited]
    del inherited, cycle
    try:
        kept = _run_in_fork_pool(_drop_inherited, [()], 1)
    finally:
        _INHERITED.clear()
    assert kept == [True]

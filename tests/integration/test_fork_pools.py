"""Forked children never share the HTTP connections their parent's bucket had open.

A child forked while its parent's pools hold keep-alive connections (``multiprocessing`` and
``ProcessPoolExecutor`` with ``fork``, PyTorch ``DataLoader`` workers, dask's process scheduler)
inherits those sockets with the bucket. Before the fix, sibling children and the parent wrote
requests into one TCP connection and read each other's answers: other objects' bodies, garbled
answers, reads that hung. Every object's body here is its own key, so a swapped answer is
seen, and every wait has a deadline, so a hang fails instead of blocking the run.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import urlsplit

import gcs_support
import pytest
import s3_support
from azure_support import azurite_connection_string, fresh_container

import portacloud

#: A hang on a shared connection fails the test within this many seconds (read timeouts and
#: retries would otherwise keep the parent waiting for answers a sibling took).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

KEYS = [f"fk/{i:04d}" for i in range(160)]
WORKERS = 4
ROUNDS = 3
#: Seconds a child may take to read its share before it kills itself.
DEADLINE = 90
#: The bucket the children inherit from their parent's memory (set before the pool forks).
_INHERITED: list[portacloud.Bucket] = []


def _body(key: str) -> bytes:
    return (key * 40).encode()  # 280 bytes, unlike any other key's


def _misreads(bucket: portacloud.Bucket, keys: list[str]) -> list[str]:
    """Read ``keys``; say which ones came back wrong, and how."""
    wrong = []
    for key in keys:
        try:
            data = bucket.get(key)
        except Exception as exc:  # noqa: BLE001 - a garbled answer fails in many ways
            wrong.append(f"{key}: {type(exc).__name__}: {exc}")
        else:
            if data != _body(key):
                wrong.append(f"{key}: read {data[:24]!r}...")
    return wrong


def _child(keys: list[str]) -> list[str]:
    signal.alarm(DEADLINE)  # a hung child dies instead of holding the pool
    return _misreads(_INHERITED[0], keys)


def _warm(bucket: portacloud.Bucket) -> None:
    """Leave open connections in the parent's pools, the SDK driver's included."""
    with ThreadPoolExecutor(4) as threads:
        assert not any(threads.map(lambda k: _misreads(bucket, [k]), KEYS[:8]))
    if bucket.capabilities.server_side_copy:
        # The obstore engines send copies through their SDK driver, whose pool the children use.
        bucket.copy(KEYS[0], "fk-copy")


def _round(bucket: portacloud.Bucket) -> list[str]:
    """One pool of forked readers, the parent reading at the same time."""
    _warm(bucket)
    shares = [KEYS[i::WORKERS] for i in range(WORKERS)]
    _INHERITED[:] = [bucket]
    pool = multiprocessing.get_context("fork").Pool(WORKERS)
    try:
        pending = pool.map_async(_child, shares)
        wrong = _misreads(bucket, KEYS[::-1])
        for share in pending.get(timeout=DEADLINE + 30):
            wrong += share
    finally:
        _INHERITED.clear()
        pool.terminate()
        pool.join()
    return wrong


def _check_rounds(bucket: portacloud.Bucket) -> None:
    for key in KEYS:
        bucket.put(key, _body(key))
    for number in range(ROUNDS):
        wrong = _round(bucket)
        assert not wrong, f"round {number}: {len(wrong)} misreads, first {wrong[:5]}"


@contextmanager
def _s3(engine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    s3_support.isolate_aws_env(monkeypatch)
    endpoint = s3_support.s3_endpoint("seaweedfs")
    with s3_support.fresh_bucket(endpoint, prefix="fk-") as name:
        yield f"s3://{name}?endpoint_url={endpoint}&engine={engine}"


@contextmanager
def _libcloud_s3(engine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    del engine  # libcloud's own driver
    s3_support.isolate_aws_env(monkeypatch)
    endpoint = urlsplit(s3_support.s3_endpoint("seaweedfs"))
    with s3_support.fresh_bucket(endpoint.geturl(), prefix="fk-") as name:
        yield f"libcloud+s3://{name}?host={endpoint.hostname}&port={endpoint.port}&secure=false"


@contextmanager
def _azure(engine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    conn = azurite_connection_string()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    with fresh_container(conn, prefix="fk-") as name:
        yield f"az://{name}?engine={engine}"


@contextmanager
def _gcs(engine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    del engine, monkeypatch  # one engine; anonymous credentials on the emulator
    endpoint = gcs_support.gcs_endpoint()
    with gcs_support.fresh_bucket(endpoint, prefix="fk-") as name:
        yield f"gs://{name}?endpoint_url={endpoint}"


_STORES: dict[str, tuple[Callable[[str, pytest.MonkeyPatch], AbstractContextManager[str]], str]] = {
    "s3-sdk": (_s3, "sdk"),
    "s3-obstore": (_s3, "obstore"),
    "azure-sdk": (_azure, "sdk"),
    "azure-obstore": (_azure, "obstore"),
    "gcs": (_gcs, "sdk"),
    "libcloud-s3": (_libcloud_s3, "sdk"),
}


@pytest.mark.parametrize("store", list(_STORES))
def test_forked_readers_get_their_own_objects(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, engine = _STORES[store]
    with make(engine, monkeypatch) as url:
        bucket = portacloud.open_bucket(url)
        try:
            _check_rounds(bucket)
        finally:
            bucket.close()

"""Handles pickle by URL and options, never by driver, and reopen lazily where they land."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import portacloud
from portacloud.handle import picklable_options
from portacloud.storage.bucket import Bucket


def _write_and_read(bucket: Bucket, key: str) -> bytes:
    # Runs in a worker process: the bucket arrives by pickle and opens its driver there.
    bucket.put(key, key.encode() * 3)
    return bucket.get(key)


def test_bucket_round_trips_and_reopens_lazily(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    bucket.put("k", b"v")
    copy = pickle.loads(pickle.dumps(bucket))
    assert copy._driver_obj is None  # nothing opened until first use
    assert copy.url == bucket.url
    assert copy.get("k") == b"v"
    assert copy._driver_obj is not None


def test_child_bucket_keeps_its_prefix(tmp_path: Path) -> None:
    child = portacloud.open_bucket(tmp_path.as_uri()).child("runs/")
    child.put("x", b"1")
    copy = pickle.loads(pickle.dumps(child))
    assert copy.prefix == "runs/"
    assert copy.get("x") == b"1"
    assert [o.key for o in copy.list()] == ["x"]


def test_bucket_works_in_a_two_process_pool(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    keys = [f"worker/{i}" for i in range(6)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_write_and_read, [bucket] * len(keys), keys))
    assert results == [k.encode() * 3 for k in keys]
    assert sorted(o.key for o in bucket.list("worker/")) == keys


def test_pickles_hold_no_live_client_or_lock(tmp_path: Path) -> None:
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    bucket.put("k", b"v")  # the driver (with its locks) is open now
    state = bucket.__getstate__()
    assert state["_driver_obj"] is None
    assert set(state) == {
        "_driver_obj",
        "_url",
        "_driver_url",
        "_options",
        "_prefix",
        "_retry",
        "_regions",
    }
    # The region policy travels; the region asked for does not (the copy asks again).
    assert state["_regions"].__getstate__() == {"policy": None, "_known": False, "_region": None}


def test_credentials_and_live_objects_are_never_pickled() -> None:
    options = {
        "endpoint_url": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "aws_secret_access_key": "s3cr3t",
        "account_key": "k3y",
        "sas_token": "t0ken",
        "connection_string": "AccountKey=x",
        "session": object(),
        "part_size": 8,
        "verify": False,
    }
    assert picklable_options(options) == {
        "endpoint_url": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "part_size": 8,
        "verify": False,
    }


def test_filesystem_pickles_without_credentials(tmp_path: Path) -> None:
    from portacloud.fsspec import PortaCloudFileSystem

    fs = PortaCloudFileSystem(
        storage=tmp_path.as_uri(), token="s3cr3t-value", skip_instance_cache=True
    )
    blob = pickle.dumps(fs)
    assert b"s3cr3t-value" not in blob
    clean = PortaCloudFileSystem(storage=tmp_path.as_uri())
    clean.pipe_file("a", b"1")
    copy = pickle.loads(pickle.dumps(clean))
    assert copy.storage == clean.storage
    assert copy.cat_file("a") == b"1"


def test_filesystem_over_a_bucket_pickles_the_bucket_by_url(tmp_path: Path) -> None:
    from portacloud.fsspec import filesystem

    bucket = portacloud.open_bucket(tmp_path.as_uri())
    fs = filesystem(bucket)
    fs.pipe_file("a", b"1")
    copy = pickle.loads(pickle.dumps(fs))
    assert copy.bucket is not bucket
    assert copy.bucket.url == bucket.url
    assert copy.cat_file("a") == b"1"


@pytest.mark.parametrize("opener", ["compute", "jobs"])
def test_compute_and_job_queues_round_trip(opener: str) -> None:
    handle = (
        portacloud.open_compute("local://")
        if opener == "compute"
        else portacloud.open_jobs("local://")
    )
    copy = pickle.loads(pickle.dumps(handle))
    assert copy._driver_obj is None
    assert copy.url == handle.url
    assert copy.list() == handle.list()
    assert copy.provider == handle.provider


def _read_key(bucket: Bucket, key: str) -> bytes:
    return bucket.get(key)


def test_bucket_works_in_dask_process_tasks(tmp_path: Path) -> None:
    dask = pytest.importorskip("dask")
    bucket = portacloud.open_bucket(tmp_path.as_uri())
    for i in range(4):
        bucket.put(f"d/{i}", bytes([i]) * 4)
    tasks = [dask.delayed(_read_key)(bucket, f"d/{i}") for i in range(4)]
    got = dask.compute(*tasks, scheduler="processes", num_workers=2)
    assert list(got) == [bytes([i]) * 4 for i in range(4)]

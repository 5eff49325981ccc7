"""Real consumers through ``portacloud://`` URLs: pandas, pyarrow datasets, dask, zarr, workers.

Each test names no cloud: the default profile's storage is the target (file:// or a server),
as a pipeline's would be; a few also pass ``storage_options`` explicitly.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fsspec_targets import storage_target

from portacloud.fsspec import PortaCloudFileSystem

CONSUMER_TARGETS = ("file", "seaweedfs", "fake-gcs", "azurite")


@pytest.fixture(params=CONSUMER_TARGETS)
def profile_storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh storage URL that the default profile names (``portacloud://`` resolves to it)."""
    with storage_target(request.param, tmp_path / "store") as url:
        config = tmp_path / "portacloud.toml"
        config.write_text(f'[profiles.default]\nstorage = "{url}"\n')
        monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
        yield url
        fs = PortaCloudFileSystem(storage=url)
        leftovers = fs.find("")
        if leftovers:
            fs.rm(leftovers)


def _frame(rows: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "a": np.arange(rows, dtype="int64"),
            "b": rng.random(rows),
            "c": [f"s{i % 17}" for i in range(rows)],
        }
    )


def test_pandas_parquet_with_column_projection(profile_storage: str) -> None:
    df = _frame()
    df.to_parquet("portacloud://tables/x.parquet", row_group_size=250)
    back = pd.read_parquet("portacloud://tables/x.parquet", columns=["b"])
    pd.testing.assert_frame_equal(back, df[["b"]])
    explicit = pd.read_parquet(
        "pc://tables/x.parquet", storage_options={"storage": profile_storage}
    )
    pd.testing.assert_frame_equal(explicit, df)


def test_pandas_csv(profile_storage: str) -> None:
    df = _frame(200)
    df.to_csv("portacloud://csv/x.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv("portacloud://csv/x.csv"), df)


def test_pyarrow_dataset_through_fsspec_handler(profile_storage: str) -> None:
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs = PortaCloudFileSystem(storage=profile_storage)
    pafs = PyFileSystem(FSSpecHandler(fs))
    table = pa.Table.from_pandas(_frame(), preserve_index=False)
    ds.write_dataset(
        table,
        "arrow-ds",
        filesystem=pafs,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("c", pa.string())]), flavor="hive"),
    )
    back = ds.dataset("arrow-ds", filesystem=pafs, format="parquet", partitioning="hive")
    got = back.to_table(columns=["a", "b"]).to_pandas().sort_values("a", ignore_index=True)
    pd.testing.assert_frame_equal(got, _frame()[["a", "b"]])


def test_dask_read_parquet_over_a_directory_of_parts(profile_storage: str) -> None:
    import dask.dataframe as dd

    df = _frame()
    dd.from_pandas(df, npartitions=4).to_parquet("portacloud://dask/parts", write_index=False)
    fs = PortaCloudFileSystem(storage=profile_storage)
    assert len(fs.glob("dask/parts/*.parquet")) == 4
    back = dd.read_parquet("portacloud://dask/parts", columns=["a", "c"]).compute()
    pd.testing.assert_frame_equal(
        back.sort_values("a", ignore_index=True), df[["a", "c"]], check_dtype=False
    )


def test_zarr_v3_fsspec_store(profile_storage: str) -> None:
    import zarr
    from zarr.storage import FsspecStore

    data = np.arange(120 * 80, dtype="float64").reshape(120, 80)
    store = FsspecStore.from_url("portacloud://arrays/x.zarr")
    array = zarr.create_array(store, shape=data.shape, chunks=(50, 30), dtype="float64")
    array[:] = data
    reopened = zarr.open_array(FsspecStore.from_url("portacloud://arrays/x.zarr"), mode="r")
    np.testing.assert_array_equal(reopened[:], data)
    np.testing.assert_array_equal(reopened[10:60, 25:35], data[10:60, 25:35])


class MapDataset:
    """A PyTorch-style map dataset: it crosses into workers by pickle, with its filesystem."""

    def __init__(self, fs: PortaCloudFileSystem, paths: list[str]) -> None:
        self.fs = fs
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> bytes:
        return self.fs.cat_file(self.paths[i])


def _load(dataset: MapDataset, i: int) -> tuple[int, bytes]:
    return i, dataset[i]


def test_map_dataset_read_from_two_worker_processes(profile_storage: str) -> None:
    fs = PortaCloudFileSystem(storage=profile_storage)
    paths = [f"samples/{i:03d}.bin" for i in range(12)]
    for i, path in enumerate(paths):
        fs.pipe_file(path, uuid.UUID(int=i).bytes)
    dataset = MapDataset(fs, paths)
    spawn: Any = multiprocessing.get_context("spawn")  # nothing inherited: all by pickle
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        got = dict(pool.map(_load, [dataset] * len(dataset), range(len(dataset))))
    assert got == {i: uuid.UUID(int=i).bytes for i in range(12)}


def test_hugging_face_datasets_load_parquet(
    profile_storage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    cache = str(tmp_path / "hf-cache")
    files = "portacloud://hf/*.parquet"
    _frame(50).to_parquet("portacloud://hf/train.parquet", index=False)
    first = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=cache)
    assert first.num_rows == 50
    assert first[7]["a"] == 7
    before = datasets.load_dataset_builder("parquet", data_files=files, cache_dir=cache)
    # A rewrite changes the ETag, which datasets fingerprints its cache from; its download
    # cache goes by URL, so new bytes need a forced download (as with s3fs).
    _frame(20).to_parquet("portacloud://hf/train.parquet", index=False)
    after = datasets.load_dataset_builder("parquet", data_files=files, cache_dir=cache)
    assert after.config_id != before.config_id
    second = datasets.load_dataset(
        "parquet",
        data_files=files,
        split="train",
        cache_dir=cache,
        download_mode="force_redownload",
    )
    assert second.num_rows == 20


def _bucket_read(bucket: Any, key: str) -> bytes:
    data: bytes = bucket.get(key)
    return data


def test_bucket_crosses_into_a_process_pool(profile_storage: str) -> None:
    import portacloud

    bucket = portacloud.open_bucket(profile_storage)
    keys = [f"pool/{i}" for i in range(4)]
    for key in keys:
        bucket.put(key, key.encode())
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(_bucket_read, [bucket] * 4, keys)) == [k.encode() for k in keys]

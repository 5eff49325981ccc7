"""The portability proof: one training job, unchanged, on local, Ray and Slurm.

``examples/train.py`` reads a dataset from portable storage, fits a model with numpy and writes
its artifacts to ``PORTACLOUD_OUTPUT_URI``. The same spec is submitted to each queue and the
artifacts' CRC32Cs must be identical everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path

import pytest

import portacloud
from portacloud import JobSpec, JobState

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _queues() -> dict[str, str | None]:
    ray = os.environ.get("PORTACLOUD_TEST_RAY_ADDRESS")
    slurm = os.environ.get("PORTACLOUD_TEST_SLURM_CONF")
    return {
        "local": "local://portability",
        "ray": ray.replace("http://", "ray://") if ray else None,
        "slurm": "slurm://debug" if slurm else None,
    }


def _write_dataset(bucket: portacloud.Bucket) -> None:
    spec = importlib.util.spec_from_file_location("dataset", EXAMPLES / "dataset.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_dataset(bucket)


def test_training_job_gives_identical_artifacts_everywhere(tmp_path: Path) -> None:
    queues = _queues()
    missing = [name for name, url in queues.items() if url is None]
    if missing:
        reason = f"engines not running: {', '.join(missing)} (scripts/services.sh start)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    dataset = (tmp_path / "dataset").as_uri()
    _write_dataset(portacloud.open_bucket(dataset))
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(EXAMPLES / 'train.py'))}"
    spec = JobSpec(name="train", command=command, env={"DATASET_URI": dataset}, timeout=300)
    checksums: dict[str, dict[str, str | None]] = {}
    for name, url in queues.items():
        assert url is not None
        with portacloud.open_jobs(url, outputs=(tmp_path / "outputs").as_uri()) as queue:
            job = queue.submit(spec)
            status = queue.wait(job.id, timeout=300)
            assert status.state is JobState.SUCCEEDED, f"{name}: {queue.logs(job.id)}"
            assert "trained on 2000 rows" in queue.logs(job.id)
        assert job.output_uri is not None
        out = portacloud.open_bucket(job.output_uri)
        checksums[name] = {k: out.head(k).crc32c for k in ("model.json", "metrics.json")}
    assert checksums["local"]["model.json"] is not None
    assert checksums["ray"] == checksums["local"], checksums
    assert checksums["slurm"] == checksums["local"], checksums

"""The portability proof: one training job, unchanged, on local, Ray and Slurm.

``examples/train.py`` reads a dataset from portable storage, fits a model with numpy and writes
its artifacts to ``PORTACLOUD_OUTPUT_URI``. The same spec is submitted to each queue and the
artifacts' SHA-256 digests must be identical everywhere.

The image form carries its environment instead: ``examples/image/train.py`` baked into the test
Python image (scripts/build_test_images.sh, ``$PORTACLOUD_TEST_IMAGE_PYTHON``), pulled from the
local registry by every backend, and the same spec gives the same bytes on all three.
"""

from __future__ import annotations

import hashlib
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


def _all_queues() -> dict[str, str]:
    queues = _queues()
    missing = [name for name, url in queues.items() if url is None]
    if missing:
        _skip(f"engines not running: {', '.join(missing)} (scripts/services.sh start)")
    return {name: url for name, url in queues.items() if url is not None}


def _skip(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _artifact_checksums(
    queues: dict[str, str], spec: JobSpec, outputs: Path, *, expect: str
) -> dict[str, dict[str, str | None]]:
    """Run ``spec`` on every queue; the SHA-256 of the artifacts each run wrote."""
    checksums: dict[str, dict[str, str | None]] = {}
    for name, url in queues.items():
        with portacloud.open_jobs(url, outputs=outputs.as_uri()) as queue:
            if spec.image is not None and not queue.capabilities.images:
                _skip(f"{name} declares no container runtime (capability images)")
            job = queue.submit(spec)
            status = queue.wait(job.id, timeout=300)
            assert status.state is JobState.SUCCEEDED, f"{name}: {queue.logs(job.id)}"
            assert expect in queue.logs(job.id)
        assert job.output_uri is not None
        out = portacloud.open_bucket(job.output_uri)
        # A digest of the bytes themselves: a container writes its files without portacloud,
        # so they carry no stored checksum.
        checksums[name] = {
            k: hashlib.sha256(out.get(k)).hexdigest() for k in ("model.json", "metrics.json")
        }
    return checksums


def _write_dataset(bucket: portacloud.Bucket) -> None:
    spec = importlib.util.spec_from_file_location("dataset", EXAMPLES / "dataset.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_dataset(bucket)


def test_training_job_gives_identical_artifacts_everywhere(tmp_path: Path) -> None:
    queues = _all_queues()
    dataset = (tmp_path / "dataset").as_uri()
    _write_dataset(portacloud.open_bucket(dataset))
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(EXAMPLES / 'train.py'))}"
    spec = JobSpec(name="train", command=command, env={"DATASET_URI": dataset}, timeout=300)
    checksums = _artifact_checksums(
        queues, spec, tmp_path / "outputs", expect="trained on 2000 rows"
    )
    assert checksums["local"]["model.json"] is not None
    assert checksums["ray"] == checksums["local"], checksums
    assert checksums["slurm"] == checksums["local"], checksums


def test_image_training_job_gives_identical_artifacts_everywhere(tmp_path: Path) -> None:
    image = os.environ.get("PORTACLOUD_TEST_IMAGE_PYTHON")
    if not image:
        _skip("PORTACLOUD_TEST_IMAGE_PYTHON is not set (scripts/servers/registry.sh start)")
    queues = _all_queues()
    spec = JobSpec(name="train-image", image=image, command=("python3", "/app/train.py"))
    checksums = _artifact_checksums(
        queues, spec, tmp_path / "outputs", expect="trained on 2000 rows"
    )
    assert checksums["local"]["model.json"] is not None
    assert checksums["ray"] == checksums["local"], checksums
    assert checksums["slurm"] == checksums["local"], checksums

"""GPU strings go through the one GPU taxonomy; timeouts are positive; the import stays light."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from pydantic import ValidationError

import portacloud
from portacloud import InvalidArgumentError, JobSpec, Resources
from portacloud.compute.gpus import canonical_gpu


@pytest.mark.parametrize("gpus", ["A100x8", "banana:2", "banana", "H1000:8", "8xA100"])
def test_unknown_gpu_strings_are_refused_with_the_offers_message(gpus: str) -> None:
    name = gpus.rsplit(":", 1)[0]
    with pytest.raises(InvalidArgumentError) as from_offers:
        canonical_gpu(name)
    with pytest.raises((InvalidArgumentError, ValidationError)) as from_resources:
        Resources(gpus=gpus)
    if isinstance(from_resources.value, InvalidArgumentError):
        # One code path: the same words as `portacloud offers`, "did you mean" included.
        assert from_resources.value.message == from_offers.value.message
    else:
        assert "TYPE:COUNT" in str(from_resources.value)


def test_a_count_written_into_the_name_gets_a_type_count_hint() -> None:
    with pytest.raises(InvalidArgumentError, match=r"did you mean A100:8 \(TYPE:COUNT\)"):
        Resources(gpus="A100x8")
    with pytest.raises(InvalidArgumentError, match=r"did you mean A100:8"):
        canonical_gpu("A100x8")


@pytest.mark.parametrize(
    ("gpus", "stored"),
    [("nvidia-tesla-t4:1", "T4:1"), ("a100-80gb:8", "A100-80GB:8"), ("H100", "H100:1"), (2, 2)],
)
def test_gpu_names_are_stored_in_canonical_form(gpus: str | int, stored: str | int) -> None:
    assert Resources(gpus=gpus).gpus == stored


@pytest.mark.parametrize("gpus", ["A100:0", "A100:-1", "A100:1.5", -1, 1.5, "A100:+2"])
def test_gpu_counts_are_positive_integers(gpus: object) -> None:
    with pytest.raises(ValueError, match="gpu"):
        Resources(gpus=gpus)  # type: ignore[arg-type]


def test_job_specs_and_submit_refuse_unknown_gpus() -> None:
    queue = portacloud.open_jobs("local://gpuspec?gpus=8")
    with pytest.raises(InvalidArgumentError, match="unknown GPU 'A100x8'"):
        queue.submit({"name": "x", "command": "true", "resources": {"gpus": "A100x8"}})
    with pytest.raises(InvalidArgumentError, match="unknown GPU 'banana'"):
        JobSpec(name="x", command="true", resources={"gpus": "banana:2"})  # type: ignore[arg-type]
    assert queue.list() == []


def test_instance_specs_refuse_unknown_gpus_before_any_launch() -> None:
    compute = portacloud.open_compute("local://gpuspec")
    with pytest.raises(InvalidArgumentError, match="unknown GPU 'banana'"):
        compute.create({"name": "x", "resources": {"gpus": "banana:1"}})
    assert compute.list() == []


@pytest.mark.parametrize("timeout", [-1, -5.0, 0, math.nan])
def test_job_wait_refuses_a_nonsense_timeout(timeout: float) -> None:
    queue = portacloud.open_jobs("local://waits")
    job = queue.submit(JobSpec(name="w", command="true"))
    with pytest.raises(InvalidArgumentError, match="timeout"):
        queue.wait(job.id, timeout=timeout)
    with pytest.raises(InvalidArgumentError, match="timeout"):
        job.wait(timeout=timeout)


@pytest.mark.parametrize("timeout", [-1, 0, math.nan])
def test_compute_wait_refuses_a_nonsense_timeout(timeout: float) -> None:
    compute = portacloud.open_compute("local://waits")
    with pytest.raises(InvalidArgumentError, match="timeout"):
        compute.wait("i-0123456789abcdef0", "RUNNING", timeout=timeout)


@pytest.mark.parametrize("timeout", [-5, 0, math.nan])
def test_job_spec_timeouts_are_positive(timeout: float) -> None:
    queue = portacloud.open_jobs("local://specwait")
    with pytest.raises(InvalidArgumentError, match="timeout"):
        queue.submit({"name": "t", "command": "true", "timeout": timeout})
    assert queue.list() == []


def test_import_portacloud_stays_light() -> None:
    code = (
        "import sys, portacloud\n"
        "heavy = [m for m in ('pydantic', 'boto3', 'botocore', 'google.cloud', 'azure', 'ray',"
        " 'portacloud.compute.gpus', 'portacloud.resources') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""

"""The mapping of image jobs: reference grammar, the wrapper's podman command line, reasons.

Real podman runs image jobs in the job conformance suite (test_images.py) on every backend;
here a stand-in ``podman`` on the PATH records the command lines the wrapper gives it.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from portacloud import JobSpec
from portacloud.jobs.containers import (
    INFRA_EXIT_CODE,
    check_image_reference,
    container_command,
)
from portacloud.jobs.image_failures import image_failure, image_reason

IMAGE = "127.0.0.1:19300/portacloud/busybox:abc"


@pytest.mark.parametrize(
    "reference",
    [
        IMAGE,
        "python:3.11",
        "ghcr.io/org/team/app:v1.2-rc_3",
        "localhost/app",
        "[::1]:5000/app:1",
        "registry.example.com/app@sha256:" + "a" * 64,
        "registry.example.com/app:1@sha256:" + "0" * 64,
    ],
)
def test_well_formed_references_are_accepted(reference: str) -> None:
    assert check_image_reference(reference) == reference
    assert JobSpec(name="x", command="true", image=reference).image == reference


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "Upper/case",
        "a b",
        "app:tag:again",
        "app:",
        "/app",
        "app@sha256:short",
        "-app",
        "a" * 300,
    ],
)
def test_malformed_references_are_refused(reference: str) -> None:
    with pytest.raises(ValueError, match="image"):
        check_image_reference(reference)


def test_infra_exit_code_of_an_image_task_names_the_image() -> None:
    message = image_failure(IMAGE, INFRA_EXIT_CODE)
    assert message is not None
    assert IMAGE in message
    assert image_failure(IMAGE, 1) is None
    assert image_failure(None, INFRA_EXIT_CODE) is None  # a plain command's own 125


@pytest.fixture
def fake_podman(tmp_path: Path) -> Path:
    """A ``podman`` that logs each call and says the image is missing, then pulls it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    script = bin_dir / "podman"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >>{log}\n'
        'case "$1 $2" in "image exists") exit 1 ;; esac\n'
        '[ "$1" = pull ] && { [ "${FAIL_PULL:-}" = 1 ] && { echo "Error: manifest unknown" >&2; '
        "exit 125; }; exit 0; }\n"
        'echo "env FOO=$FOO"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def _run(home: Path, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PORTACLOUD_JOB_ID": "job 1",
        "PORTACLOUD_TASK_INDEX": "0",
        "PORTACLOUD_ATTEMPT": "2",
        "FOO": "a b",
        **extra,
    }
    work = home / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=False)


def test_wrapper_pulls_then_runs_with_env_mounts_name_and_timeout(fake_podman: Path) -> None:
    out = fake_podman / "outputs" / "job"
    argv = container_command(
        IMAGE, "echo $FOO", env_names=["FOO"], output_uri=out.as_uri() + "/", timeout=10
    )
    done = _run(fake_podman, argv)
    assert done.returncode == 0, done.stderr
    pull, run = (fake_podman / "calls").read_text().splitlines()[1:]
    assert pull == f"pull -q --tls-verify=false {IMAGE}"
    assert run.startswith("run --rm --replace --name portacloud-job-1-0-2 --network host ")
    for part in ("-e FOO", "-e PORTACLOUD_OUTPUT_URI", "-e CUDA_VISIBLE_DEVICES", "--timeout 15"):
        assert part in run
    work = (fake_podman / "work").resolve()
    assert f"-v {work}:{work} -w {work}" in run
    assert f"-v {out}:{out}" in run
    assert out.is_dir()  # created so that podman can mount it
    assert run.endswith(f"{IMAGE} /bin/sh -c echo $FOO")


def test_wrapper_mounts_no_output_dir_for_object_storage(fake_podman: Path) -> None:
    argv = container_command(
        IMAGE, ["true"], env_names=[], output_uri="s3://bucket/out/", timeout=None
    )
    assert _run(fake_podman, argv).returncode == 0
    run = (fake_podman / "calls").read_text().splitlines()[-1]
    assert run.count(" -v ") == 1  # the working directory only
    assert "--timeout" not in run


def test_failed_pull_exits_infra_code_naming_the_image(fake_podman: Path) -> None:
    argv = container_command(IMAGE, ["true"], env_names=[], output_uri=None, timeout=None)
    done = _run(fake_podman, argv, FAIL_PULL="1")
    assert done.returncode == INFRA_EXIT_CODE
    assert f"cannot pull image {IMAGE}: Error: manifest unknown" in done.stderr
    assert not any(c.startswith("run ") for c in (fake_podman / "calls").read_text().splitlines())


def test_missing_podman_is_an_infra_failure(tmp_path: Path) -> None:
    argv = container_command(IMAGE, ["true"], env_names=[], output_uri=None, timeout=None)
    done = subprocess.run(
        argv, env={"PATH": str(tmp_path)}, capture_output=True, text=True, check=False
    )
    assert done.returncode == INFRA_EXIT_CODE
    assert "podman is not installed" in done.stderr


def test_slurm_batch_script_runs_the_image_wrapper(tmp_path: Path) -> None:
    pytest.importorskip("portacloud_slurm")
    from portacloud_slurm.script import batch_script

    spec = JobSpec(name="img", image=IMAGE, command="echo hi")
    text = batch_script(spec, env={"PORTACLOUD_OUTPUT_URI": "file:///o/"}, job_dir=tmp_path, gpus=0)
    assert "podman run --rm --replace" in text
    assert f"__pc_img={IMAGE}" in text


def test_only_a_user_error_with_podmans_exit_code_becomes_infra_error() -> None:
    from portacloud import JobReason

    assert image_reason(IMAGE, JobReason.USER_ERROR, INFRA_EXIT_CODE) is JobReason.INFRA_ERROR
    assert image_reason(IMAGE, JobReason.USER_ERROR, 1) is JobReason.USER_ERROR
    assert image_reason(None, JobReason.USER_ERROR, INFRA_EXIT_CODE) is JobReason.USER_ERROR
    assert image_reason(IMAGE, JobReason.TIMEOUT, INFRA_EXIT_CODE) is JobReason.TIMEOUT

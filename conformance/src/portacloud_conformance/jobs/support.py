"""Helpers of the job suite."""

from __future__ import annotations

from pathlib import Path

import portacloud

#: Generous bounds: Slurm and Ray take seconds to schedule even trivial jobs.
WAIT = 120.0


def wait_until(
    queue: portacloud.JobQueue, job_id: str, *states: portacloud.JobState
) -> portacloud.JobStatus:
    """Poll until the job is in one of ``states`` (or has ended), at most WAIT seconds."""
    import time

    deadline = time.monotonic() + WAIT
    while True:
        status = queue.status(job_id)
        if status.state in states or status.state.terminal:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {status.state} after {WAIT} s")
        time.sleep(0.2)


def registry_image(kind: str) -> str:
    """The test image ``$PORTACLOUD_TEST_IMAGE_<KIND>`` (scripts/servers/registry.sh sets it);
    skips without it, and fails under ``CI=true``, where the registry must be up."""
    import os

    import pytest

    name = f"PORTACLOUD_TEST_IMAGE_{kind}"
    reference = os.environ.get(name)
    if not reference:
        reason = f"{name} is not set: no test registry (scripts/servers/registry.sh start)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return reference


def output_dir(output_uri: str | None) -> Path:
    """The local directory of a ``file://`` output URI; skips for other outputs."""
    from urllib.parse import unquote, urlsplit

    import pytest

    parts = urlsplit(output_uri or "")
    if parts.scheme != "file":
        pytest.skip(f"outputs at {output_uri!r} are not a file:// directory of this machine")
    return Path(unquote(parts.path))

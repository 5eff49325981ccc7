"""Helpers of the job suite."""

from __future__ import annotations

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

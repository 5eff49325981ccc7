"""What the child processes of the crash trials and the races do.

Imported by the forkserver before any child starts (test_crash_safety.py,
test_conditional_races.py), so that a child is ready in milliseconds and a kill lands inside
the write or the migration rather than inside ``import boto3``.
"""

from __future__ import annotations

import os
import random
import time
from multiprocessing.connection import Connection
from typing import Any


def payload(seed: int, size: int) -> bytes:
    """The bytes a trial writes: the parent regenerates them to check what is visible."""
    return random.Random(seed).randbytes(size)


def write(
    url: str, key: str, seed: int, size: int, piece: int, env: dict[str, str], conn: Connection
) -> None:
    """Stream ``size`` bytes to ``key`` in ``piece``-byte writes; report progress on ``conn``.

    A producer takes a moment per piece (5 ms here), so a kill can land while the object is
    still being written, not only during the request that commits it.
    """
    os.environ.update(env)
    import portacloud

    bucket = portacloud.open_bucket(url)
    data = payload(seed, size)
    conn.send("started")
    with bucket.open(key, "wb") as out:
        for at in range(0, size, piece):
            out.write(data[at : at + piece])
            time.sleep(0.005)
    conn.send("done")


def migrate(src: str, dst: str, journal: str, env: dict[str, str], conn: Connection) -> None:
    """Run a migration; report when it starts and ends on ``conn``."""
    os.environ.update(env)
    from portacloud.migrate import migrate as run

    conn.send("started")
    result = run(src, dst, journal=journal, concurrency=4)
    conn.send("done" if result.ok else "failed")


def race(
    url: str,
    env: dict[str, str],
    worker: int,
    commands: Any,
    results: Any,
    barrier: Any,
) -> None:
    """A racing process of test_conditional_races.py: one attempt per round it is sent."""
    os.environ.update(env)
    import portacloud

    bucket = portacloud.open_bucket(url)
    while True:
        command = commands.get()
        if command is None:
            return
        round_, key, mode, etag = command
        body = f"process {worker} round {round_}".encode()
        barrier.wait()
        results.put((round_, f"p{worker}", attempt(bucket, key, mode, etag, body), body))


def attempt(bucket: Any, key: str, mode: str, etag: str | None, body: bytes) -> str:
    """One conditional write: ``won``, ``lost`` (FAILED_PRECONDITION) or ``error: ...``."""
    import portacloud

    try:
        if mode == "create":
            bucket.put(key, body, if_none_match="*")
        else:
            bucket.put(key, body, if_match=etag)
    except portacloud.FailedPreconditionError:
        return "lost"
    except portacloud.PortaCloudError as exc:
        return f"error: {exc}"
    return "won"

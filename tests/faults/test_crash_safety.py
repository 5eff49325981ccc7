"""kill -9 at seeded random points: no partial object ever becomes visible.

For each backend, 20 seeded trials cycle through three kinds of work done by a child process
that is killed with SIGKILL at a random instant:

- ``stream``: a 3 MiB streamed write in 256 KiB pieces (one request at commit on S3, a
  resumable session on GCS, staged blocks on Azure);
- ``multipart``: a 20 MiB streamed write with 5 MiB parts, chunks or blocks;
- ``migrate``: a migration of 30 objects into a fresh destination prefix.

After each kill, what the server lists and serves is read behind the driver's back: an object
is either absent or complete and byte-identical (never partial). Writes left unfinished are
counted where the server can list them (S3 multipart uploads, Azure uncommitted blocks); they
are invisible and billed until a lifecycle rule or a cleanup removes them. Each killed
migration is then resumed with its journal and must end verified, with a complete,
byte-identical destination.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import crash_child
import pytest
from backends import BACKENDS, Backend, backend
from conftest import SEED, Figures

from portacloud.migrate import migrate

pytestmark = pytest.mark.usefixtures("backend_env")

TRIALS = int(os.environ.get("PORTACLOUD_CRASH_TRIALS", "20"))
KINDS = ("stream", "multipart", "migrate")
MiB = 1024 * 1024
SIZES = {"stream": 3 * MiB, "multipart": 20 * MiB}
PART = 5 * MiB
MIGRATION_OBJECTS = 30


def _part_options(be: Backend) -> dict[str, int]:
    return {"s3": {"part_size": PART}, "gcs": {"chunk_size": PART}, "azure": {"block_size": PART}}[
        be.name
    ]


def _digest(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


def _run_child(
    context: Any, target: Any, args: tuple[Any, ...], kill_after: float | None
) -> tuple[str, float]:
    """Run ``target`` in a child; SIGKILL it ``kill_after`` s after it started working.

    Returns how it ended (``killed``, ``done``, ``failed``) and how long it worked.
    """
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, child), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(60):
            raise AssertionError("the child never started")
        assert parent.recv() == "started"
        started = time.monotonic()
        if kill_after is None:
            status = parent.recv() if parent.poll(120) else "hung"
            return status, time.monotonic() - started
        if parent.poll(kill_after):
            return parent.recv(), time.monotonic() - started  # finished before the kill
        os.kill(process.pid, signal.SIGKILL)
        return "killed", time.monotonic() - started
    finally:
        process.join(30)
        parent.close()


def _visible_write(
    be: Backend,
    container: str,
    key: str,
    expected: tuple[int, str],
    earlier: dict[str, tuple[int, str]] | None = None,
) -> str:
    """``absent`` or ``complete``; anything partial fails the test.

    An earlier trial's object may appear after that trial was cleaned up: the killed child's
    last request can still be served after the kill. It must be whole too.
    """
    stored = be.raw_digests(container)
    known = earlier or {}
    for other, digest in stored.items():
        if other != key:
            assert other in known, f"unexpected objects: {sorted(stored)}"
            assert digest == known[other], f"a partial or damaged object is visible: {other}"
    if key not in stored:
        return "absent"
    assert stored[key] == expected, f"a partial or damaged object is visible: {stored[key]}"
    return "complete"


@pytest.mark.parametrize("name", BACKENDS)
def test_kill_9_leaves_nothing_partial(
    name: str, figures: Figures, forkserver: Any, tmp_path: Path
) -> None:
    be = backend(name)
    rng = random.Random(f"{SEED}-crash-{name}")
    outcomes: Counter[str] = Counter()
    leftovers: Counter[str] = Counter()
    resumed = 0
    earlier: dict[str, tuple[int, str]] = {}
    with be.container() as container, be.container() as source, be.container() as target:
        env = be.env()
        # Migration sources, written by portacloud so that every object carries a CRC32C.
        seed_bucket = be.open(source, be.upstream)
        expected_sources: dict[str, tuple[int, str]] = {}
        for i in range(MIGRATION_OBJECTS):
            data = rng.randbytes(rng.randrange(64 * 1024, 2 * MiB))
            seed_bucket.put(f"m/{i:03d}", data)
            expected_sources[f"m/{i:03d}"] = _digest(data)
        seed_bucket.close()
        url = be.url(container, be.upstream, **_part_options(be))

        # One uncrashed run of each kind: it must work, and it says how long a trial lasts.
        duration: dict[str, float] = {}
        for kind in ("stream", "multipart"):
            key = f"calibrate-{kind}"
            status, took = _run_child(
                forkserver,
                crash_child.write,
                (url, key, 1, SIZES[kind], 256 * 1024, env),
                kill_after=None,
            )
            assert status == "done", status
            visible = _visible_write(
                be, container, key, _digest(crash_child.payload(1, SIZES[kind]))
            )
            assert visible == "complete"
            _drop_all(be, container)
            duration[kind] = took
        status, took = _run_child(
            forkserver,
            crash_child.migrate,
            (
                be.url(source, be.upstream, "m"),
                be.url(target, be.upstream, "calibrate"),
                str(tmp_path / "calibrate.sqlite"),
                env,
            ),
            kill_after=None,
        )
        assert status == "done", status
        duration["migrate"] = took

        for trial in range(TRIALS):
            kind = KINDS[trial % len(KINDS)]
            kill_after = rng.uniform(0.0, 1.1 * duration[kind])
            if kind == "migrate":
                prefix = f"trial-{trial:02d}"
                journal = tmp_path / f"{prefix}.sqlite"
                src_url = be.url(source, be.upstream, "m")
                dst_url = be.url(target, be.upstream, prefix)
                status, _ = _run_child(
                    forkserver,
                    crash_child.migrate,
                    (src_url, dst_url, str(journal), env),
                    kill_after,
                )
                outcomes[f"migrate:{status}"] += 1
                _check_partial_migration(be, target, prefix, expected_sources)
                # Resume where the killed run stopped: verified and complete.
                result = migrate(src_url, dst_url, journal=journal, concurrency=4)
                assert result.ok, result.failures
                assert result.verified == MIGRATION_OBJECTS
                stored = _prefixed(be.raw_digests(target), prefix)
                assert stored == {k[2:]: v for k, v in expected_sources.items()}
                resumed += 1
                continue
            key = f"{kind}-{trial:02d}"
            seed = rng.randrange(2**31)
            status, _ = _run_child(
                forkserver,
                crash_child.write,
                (url, key, seed, SIZES[kind], 256 * 1024, env),
                kill_after,
            )
            expected = _digest(crash_child.payload(seed, SIZES[kind]))
            visible = _visible_write(be, container, key, expected, earlier)
            earlier[key] = expected
            outcomes[f"{kind}:{status}:{visible}"] += 1
            assert not (status == "done" and visible == "absent"), "a finished write is missing"
            left = be.leftovers(container, key)
            if left is not None:
                leftovers[kind] += left
            _drop_all(be, container)

    figures.add(
        "crash",
        name,
        {
            "server": be.server,
            "trials": TRIALS,
            "outcomes": dict(outcomes),
            "partial_objects_visible": 0,
            "migrations_resumed_and_verified": resumed,
            "invisible_leftovers": dict(leftovers) if be.name != "gcs" else "not listable",
            "calibrated_seconds": {k: round(v, 3) for k, v in duration.items()},
        },
    )


def _prefixed(stored: dict[str, tuple[int, str]], prefix: str) -> dict[str, tuple[int, str]]:
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in stored.items() if k.startswith(prefix + "/")}


def _check_partial_migration(
    be: Backend, target: str, prefix: str, sources: dict[str, tuple[int, str]]
) -> None:
    """Whatever a killed migration left visible is whole: each object equals its source."""
    by_name = {k[2:]: v for k, v in sources.items()}
    for key, digest in _prefixed(be.raw_digests(target), prefix).items():
        assert by_name.get(key) == digest, f"a partial object is visible: {prefix}/{key}"


def _drop_all(be: Backend, container: str) -> None:
    """Delete every object and abandoned upload, so each trial starts empty."""
    if be.name == "s3":
        from backends import s3_uploads

        client = be.raw_s3()
        for upload in s3_uploads(client, container):
            client.abort_multipart_upload(
                Bucket=container, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for key in be.raw_keys(container):
            client.delete_object(Bucket=container, Key=key)
        client.close()
    elif be.name == "gcs":
        gcs = be.raw_gcs()
        for blob in gcs.list_blobs(container):
            blob.delete()
        gcs.close()
    else:
        service = be.raw_azure()
        client = service.get_container_client(container)
        for item in client.list_blobs():
            client.delete_blob(item.name)
        service.close()

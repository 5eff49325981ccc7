"""Checksums catch bad bodies: corrupted or truncated bytes are never returned as good data.

Every object-data answer of the proxy is damaged (``rate=1``), so every try fails the same way
and the caller must end with an error, after the policy's retries, never with the bytes:

- a flipped byte in a download: whole reads, in memory or streamed, raise
  ChecksumMismatchError (the portable CRC32C);
- a truncated download: whole and ranged reads raise UNAVAILABLE (the length check);
- a flipped byte in an upload: the write fails, and the server holds nothing damaged (the CRC32C
  sent with the upload, or compared after it, refuses it).

Ranged reads are checked for length only: S3 and GCS offer no checksum of an arbitrary range,
so a flipped byte inside a ranged read can only be caught by the transport (TLS). RELIABILITY.md
says so.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from backends import BACKENDS, backend
from conftest import SEED, Figures, RetryLog
from proxy import FaultKind, FaultProxy, Schedule

import portacloud
from portacloud.retry import RetryPolicy

pytestmark = pytest.mark.usefixtures("backend_env")

SIZES = (1, 1000, 300 * 1024, 3 * 1024 * 1024)
#: The default number of tries, with delays of a millisecond: this module checks what the
#: retries do, test_reliability.py checks their timing.
FAST = RetryPolicy(initial_delay=0.001)
ATTEMPTS = FAST.attempts


def _fast(bucket: portacloud.Bucket) -> portacloud.Bucket:
    return portacloud.Bucket(bucket._driver, url=bucket.url, prefix=bucket.prefix, retry=FAST)


def _always(kind: FaultKind) -> Schedule:
    return Schedule(SEED, rate=1.0, weights={kind: 1.0})


@pytest.mark.parametrize("name", BACKENDS)
def test_damaged_downloads_never_pass_as_good(
    name: str, figures: Figures, retry_log: RetryLog
) -> None:
    be = backend(name)
    rng = random.Random(f"{SEED}-checksums-{name}")
    outcomes: Counter[str] = Counter()
    with be.container() as container:
        direct = be.open(container, be.upstream)
        objects = {f"c/{size}": rng.randbytes(size) for size in SIZES}
        for key, data in objects.items():
            direct.put(key, data)

        with FaultProxy(
            be.upstream,
            dialect=be.dialect,
            schedule=_always(FaultKind.CORRUPT),
            body_filter=be.body_filter,
        ) as proxy:
            bucket = _fast(be.open(container, proxy.url))
            for key in objects:
                before = retry_log.count
                with pytest.raises(portacloud.ChecksumMismatchError):
                    bucket.get(key)
                # The mismatch is retryable (reading again is safe), so every try was made.
                assert retry_log.count - before == ATTEMPTS - 1
                with pytest.raises(portacloud.ChecksumMismatchError), bucket.open(key) as f:
                    f.read()
                outcomes["corrupt download refused"] += 2
            assert proxy.faults()["corrupt"] >= len(objects) * ATTEMPTS

        with FaultProxy(
            be.upstream, dialect=be.dialect, schedule=_always(FaultKind.TRUNCATE)
        ) as proxy:
            bucket = _fast(be.open(container, proxy.url))
            for key, data in objects.items():
                with pytest.raises(portacloud.UnavailableError):
                    bucket.get(key)
                with pytest.raises(portacloud.UnavailableError), bucket.open(key) as f:
                    f.read()
                with pytest.raises(portacloud.UnavailableError):
                    bucket.get(key, range=(0, max(1, len(data) // 2)))
                outcomes["truncated download refused"] += 3
        # Nothing above changed what is stored.
        assert {k: direct.get(k) for k in objects} == objects
    figures.add("checksums", f"{name} downloads", dict(outcomes))


@pytest.mark.parametrize("name", BACKENDS)
def test_damaged_uploads_are_never_stored(name: str, figures: Figures) -> None:
    be = backend(name)
    rng = random.Random(f"{SEED}-uploads-{name}")
    outcomes: Counter[str] = Counter()
    with be.container() as container:
        direct = be.open(container, be.upstream)
        with FaultProxy(
            be.upstream,
            dialect=be.dialect,
            schedule=_always(FaultKind.CORRUPT),
            corrupt_uploads=True,
            upload_filter=be.upload_filter,
        ) as proxy:
            bucket = _fast(be.open(container, proxy.url))
            for size in SIZES:
                key = f"u/{size}"
                data = rng.randbytes(size)
                try:
                    if size > 1024 * 1024:
                        with bucket.open(key, "wb") as out:
                            for at in range(0, size, 256 * 1024):
                                out.write(data[at : at + 256 * 1024])
                    else:
                        bucket.put(key, data)
                except portacloud.PortaCloudError as exc:
                    outcomes[f"refused ({exc.code.value})"] += 1
                else:
                    outcomes["stored intact"] += 1
                stored = be.raw_digests(container)
                if key in stored:
                    assert direct.get(key) == data, "damaged bytes were stored"
            corrupted = proxy.faults()["corrupt"]
        assert corrupted > 0, "no upload went through the damage"
    figures.add("checksums", f"{name} uploads", {**outcomes, "uploads_damaged": corrupted})

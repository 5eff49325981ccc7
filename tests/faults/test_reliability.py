"""Nothing is lost under the faults clouds produce: 1,000 operations and a full migration.

For each of S3 (SeaweedFS), GCS (fake-gcs-server) and Azure (Azurite), every request goes
through a :class:`~proxy.FaultProxy` that faults 10% of them on a seeded schedule (throttles
with and without ``Retry-After``, resets before and after the server applied the request,
truncated and corrupted bodies, delays). Then:

- 1,000 puts (in-memory and streamed), gets, heads, lists and deletes of random sizes must all
  succeed, every get must return the exact bytes written, and at the end every object the
  server holds is read behind the driver's back and compared with what was written;
- each operation's requests, the faults injected into it and the retries it made are counted:
  no retry happens without a fault, no fault costs more than one retry (one retry owner), and
  every request beyond a fault-free run of the same operation is explained by those retries;
- every delay follows docs/decisions/0001-retries.md (full jitter under an exponential ceiling,
  capped, ``Retry-After`` honoured up to the cap), checked from the retry log and, for
  ``Retry-After``, from the proxy's clock;
- a full migration from each backend to the next, with both sides behind faulting proxies,
  ends verified with every destination object byte-identical to its source, in one run (the
  copy tries a damaged read or a lost write answer once more itself).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from backends import BACKENDS, Backend, backend
from conftest import SEED, Figures, RetryLog, retries_logged, set_backend_env
from proxy import ERROR_FAULTS, FaultProxy, RequestRecord, Schedule

import portacloud
from portacloud.migrate import migrate
from portacloud.retry import RetryPolicy

pytestmark = pytest.mark.usefixtures("backend_env")

OPS = int(os.environ.get("PORTACLOUD_FAULT_OPS", "1000"))
RATE = 0.10
KEY_POOL = 300
MIGRATION_OBJECTS = int(os.environ.get("PORTACLOUD_FAULT_MIGRATION_OBJECTS", "120"))
POLICY = RetryPolicy()
MiB = 1024 * 1024


def _size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.70:
        return rng.randrange(0, 64 * 1024)
    if roll < 0.95:
        return rng.randrange(64 * 1024, MiB)
    return rng.randrange(MiB, 6 * MiB)


def _key(rng: random.Random) -> str:
    n = rng.randrange(KEY_POOL)
    # A few keys with spaces, unicode and URL-special characters, as users write them.
    return f"obj/{n:04d}" if n % 10 else f"obj/ü {n:04d} +%#?.bin"


@dataclass
class OpStat:
    """One operation: what it cost at the proxy and in retries."""

    index: int
    kind: str
    size: int
    requests: int
    error_faults: int
    faults: int
    retries: int
    restarts: int  # whole streamed writes the caller repeated (fake-gcs-server only)
    base: int  # requests of the same operation with no fault
    first_record: int  # the proxy's request indexes of this operation: [first, last)
    last_record: int
    fault_kinds: tuple[str, ...] = ()  # what was done to its requests, with the method


@dataclass
class Store:
    """What the test wrote: the truth the server is compared with."""

    objects: dict[str, tuple[int, str]]

    def remember(self, key: str, data: bytes) -> None:
        self.objects[key] = (len(data), hashlib.sha256(data).hexdigest())


class Workload:
    """A seeded sequence of operations on one bucket, counted per operation."""

    def __init__(
        self,
        bucket: portacloud.Bucket,
        proxy: FaultProxy,
        retries: RetryLog,
        seed: str,
        threads: tuple[str, ...],
    ) -> None:
        self.bucket = bucket
        self.proxy = proxy
        self.retries = retries
        self.threads = threads  # the names of the threads whose retries are this workload's
        self.rng = random.Random(seed)
        self.store = Store({})
        self.stats: list[OpStat] = []
        self.bytes_verified = 0
        self.bad_reads = 0
        #: Streamed writes the caller wrote again: only where the backend cannot resume one.
        self.restart_streams = False
        self.stream_restarts = 0
        self.direct: portacloud.Bucket | None = None
        self.heads_without_crc = 0

    def _measure(self, index: int, kind: str, size: int, op: Callable[[], None]) -> None:
        requests, faults_before, errors, retries = self._counters()
        restarts = self.stream_restarts
        op()
        after = self._counters()
        stat = OpStat(
            index=index,
            kind=kind,
            size=size,
            requests=after[0] - requests,
            faults=after[1] - faults_before,
            error_faults=after[2] - errors,
            retries=after[3] - retries,
            restarts=self.stream_restarts - restarts,
            base=after[0] - requests,
            first_record=requests,
            last_record=after[0],
        )
        stat.fault_kinds = tuple(
            f"{r.fault.value} {r.method} {r.status}"
            for r in self.proxy.records[stat.first_record : stat.last_record]
            if r.fault.value != "pass"
        )
        if stat.faults or stat.retries:
            # The same operation again with no fault: what one clean attempt costs.
            with self.proxy.paused():
                before = self.proxy.requests
                op()
                stat.base = self.proxy.requests - before
        self.stats.append(stat)

    def _counters(self) -> tuple[int, int, int, int]:
        return (
            self.proxy.requests,
            sum(self.proxy.faults().values()),
            self.proxy.error_faults(),
            self.retries.count_in(self.threads),
        )

    def run(self, ops: int) -> None:
        rng = self.rng
        for index in range(ops):
            roll = rng.random()
            known = sorted(self.store.objects)
            if not known or roll < 0.42:
                self._put(index, _key(rng), rng.randbytes(_size(rng)))
            elif roll < 0.47:
                self._stream(index, _key(rng), rng.randbytes(rng.randrange(MiB, 8 * MiB)))
            elif roll < 0.90:
                self._get(index, rng.choice(known))
            elif roll < 0.95:
                self._head(index, rng.choice(known))
            elif roll < 0.97:
                self._list(index)
            else:
                self._delete(index, rng.choice(known))

    def _put(self, index: int, key: str, data: bytes) -> None:
        def op() -> None:
            info = self.bucket.put(key, data, content_type="application/octet-stream")
            assert info.size == len(data)

        self._measure(index, "put", len(data), op)
        self.store.remember(key, data)

    def _stream(self, index: int, key: str, data: bytes) -> None:
        pieces = []
        at = 0
        while at < len(data):
            n = self.rng.randrange(64 * 1024, MiB)
            pieces.append(data[at : at + n])
            at += n

        def write() -> None:
            with self.bucket.open(key, "wb") as out:
                for piece in pieces:
                    out.write(piece)

        def op() -> None:
            while True:
                try:
                    return write()
                except portacloud.UnavailableError:
                    if not self.restart_streams:
                        raise
                # The server could not resume the stream: what is visible must be whole, the
                # old object, the new one, or none; then the caller, who still has the
                # bytes, writes again.
                self._check_whole(key, data)
                self.stream_restarts += 1

        self._measure(index, "stream", len(data), op)
        self.store.remember(key, data)

    def _check_whole(self, key: str, new: bytes) -> None:
        assert self.direct is not None
        try:
            seen = self.direct.get(key)  # straight to the server: not an operation's request
        except portacloud.NotFoundError:
            return
        old = self.store.objects.get(key)
        digest = hashlib.sha256(seen).hexdigest()
        assert seen == new or (old is not None and old[1] == digest), "a partial object"

    def _get(self, index: int, key: str) -> None:
        size, digest = self.store.objects[key]

        def op() -> None:
            data = self.bucket.get(key)
            if hashlib.sha256(data).hexdigest() != digest:
                self.bad_reads += 1
            self.bytes_verified += len(data)

        self._measure(index, "get", size, op)

    def _head(self, index: int, key: str) -> None:
        size, _ = self.store.objects[key]

        def op() -> None:
            info = self.bucket.head(key)
            assert info.size == size
            if info.crc32c is None:
                # Its header block was cut after Content-Length: the answer parses without
                # the headers that did not arrive. Never a wrong CRC32C, and never data.
                self.heads_without_crc += 1

        self._measure(index, "head", size, op)

    def _list(self, index: int) -> None:
        def op() -> None:
            keys = {e.key for e in self.bucket.list("obj/")}
            assert keys == set(self.store.objects)

        self._measure(index, "list", 0, op)

    def _delete(self, index: int, key: str) -> None:
        self._measure(index, "delete", 0, partial(self.bucket.delete, key))
        del self.store.objects[key]


def check_retry_delays(events: list[Any]) -> dict[str, Any]:
    """Every logged delay obeys the one policy; returns the figures for the report."""
    honoured = 0
    for event in events:
        assert 0 <= event.delay <= POLICY.max_delay, event
        if event.retry_after is not None:
            assert event.delay == pytest.approx(min(event.retry_after, POLICY.max_delay)), event
            honoured += 1
        else:
            ceiling = min(POLICY.max_delay, POLICY.initial_delay * 2 ** (event.attempt - 1))
            assert event.delay <= ceiling + 1e-9, event
    delays = [e.delay for e in events]
    return {
        "retries": len(events),
        "retry_after_honoured": honoured,
        "max_attempt": max((e.attempt for e in events), default=0),
        "mean_delay_s": round(sum(delays) / len(delays), 4) if delays else 0.0,
        "max_delay_s": round(max(delays), 4) if delays else 0.0,
        "by_code": dict(Counter(e.code for e in events)),
    }


def _is_cleanup(record: RequestRecord) -> bool:
    # Aborting the failed attempt's upload session or multipart upload is not a retry.
    return record.method == "DELETE" and (
        "upload_id=" in record.query or "uploadId=" in record.query
    )


def check_retry_after_clock(records: list[RequestRecord]) -> int:
    """After a ``Retry-After: N`` answer, the next request came no sooner than N seconds.

    Only meaningful where requests are sequential; the caller passes such a stretch.
    """
    checked = 0
    for at, this in enumerate(records):
        if this.retry_after is None:
            continue
        following = next((r for r in records[at + 1 :] if not _is_cleanup(r)), None)
        if following is None:
            continue  # the operation's last try: nothing followed
        gap = following.started - this.answered
        assert gap >= this.retry_after - 0.05, (this, following, gap)
        checked += 1
    return checked


def check_one_owner(stats: list[OpStat]) -> dict[str, Any]:
    """Per operation: no retry without a fault, at most one per fault, none hidden."""
    for stat in stats:
        assert stat.retries <= stat.error_faults, f"more retries than faults: {stat}"
        # Requests beyond one clean attempt come only from retries counted at the portable
        # policy: an SDK retrying on its own would add requests with no retry logged.
        attempts = 1 + stat.retries + stat.restarts
        # A failed attempt may also clean up after itself (abort its upload or session).
        allowed = stat.base * attempts + (attempts - 1)
        assert stat.requests <= allowed, f"unexplained requests: {stat}"
    absorbed = sum(s.error_faults - s.retries for s in stats)
    return {
        "absorbed_examples": [
            f"{s.kind} of {s.size} bytes: faults {', '.join(s.fault_kinds)}; {s.retries} "
            f"retries, {s.requests} requests (clean: {s.base})"
            for s in stats
            if s.error_faults > s.retries
        ][:8],
        "operations": len(stats),
        "faulted_operations": sum(1 for s in stats if s.faults),
        "requests": sum(s.requests for s in stats),
        "clean_requests": sum(s.base for s in stats),
        "request_bound": sum(s.base for s in stats) * POLICY.attempts,
        "faults_without_retry": absorbed,
    }


#: Thread names of each backend's work: the workload's own thread and its driver's pools.
_THREADS = {
    "s3": ("faults-s3", "portacloud-s3"),
    "gcs": ("faults-gcs",),
    "azure": ("faults-azure", "portacloud-az"),
}


@dataclass
class Run:
    """One backend's workload, run in its own thread, and what it left on the server."""

    backend: Backend
    proxy: FaultProxy | None = None
    work: Workload | None = None
    stored: dict[str, tuple[int, str]] | None = None
    error: BaseException | None = None
    retry_after: bool = True


def _run_workload(run: Run, retries: RetryLog) -> None:
    be = run.backend
    try:
        with (
            be.container() as container,
            FaultProxy(
                be.upstream,
                dialect=be.dialect,
                schedule=Schedule(SEED, rate=RATE),
                body_filter=be.body_filter,
            ) as proxy,
        ):
            run.proxy = proxy
            bucket = be.open(container, proxy.url)
            run.retry_after = bucket.capabilities.retry_after
            work = Workload(bucket, proxy, retries, f"{SEED}-{be.name}", _THREADS[be.name])
            run.work = work
            # fake-gcs-server cannot tell a writer what a broken chunk request left in a
            # resumable session (see portacloud_gcp.profiles): such a stream fails, and the
            # caller, who still has the bytes, writes it again.
            work.restart_streams = be.name == "gcs"
            work.direct = be.open(container, be.upstream)
            work.run(OPS)
            bucket.close()
            run.stored = be.raw_digests(container)
    except BaseException as exc:  # noqa: BLE001 - re-raised by the backend's test
        run.error = exc


@pytest.fixture(scope="module")
def workloads() -> Iterator[tuple[dict[str, Run], RetryLog]]:
    """The three backends' workloads, run at once (each sequential, each behind its proxy)."""
    with pytest.MonkeyPatch.context() as patch, retries_logged() as retries:
        set_backend_env(patch)
        runs = {name: Run(backend(name)) for name in BACKENDS}
        threads = [
            threading.Thread(target=_run_workload, args=(run, retries), name=f"faults-{name}")
            for name, run in runs.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        yield runs, retries


@pytest.mark.parametrize("name", BACKENDS)
def test_operations_under_faults(
    name: str, figures: Figures, workloads: tuple[dict[str, Run], RetryLog]
) -> None:
    runs, retries = workloads
    run = runs[name]
    if run.error is not None:
        raise run.error
    be, proxy, work, stored = run.backend, run.proxy, run.work, run.stored
    assert proxy is not None
    assert work is not None
    assert stored is not None

    assert work.bad_reads == 0, "a get returned bytes that differ from what was written"
    lost = sorted(k for k, v in work.store.objects.items() if stored.get(k) != v)
    extra = sorted(set(stored) - set(work.store.objects))
    assert not lost, f"objects lost or damaged: {lost[:10]}"
    assert not extra, f"objects that should not exist: {extra[:10]}"

    owner = check_one_owner(work.stats)
    assert proxy.requests <= owner["request_bound"]
    delays = check_retry_delays(retries.events_in(_THREADS[name]))
    # Streamed writes send parts in parallel; every other operation is one request at a time.
    # Where the engine cannot see Retry-After (capability retry_after, engine=obstore), the
    # policy's backoff applies and check_retry_delays above checked it; test_retry_owners
    # checks Retry-After on each SDK engine.
    clock_checked = sum(
        check_retry_after_clock(proxy.records[s.first_record : s.last_record])
        for s in work.stats
        if s.kind != "stream" and run.retry_after
    )
    faults = proxy.faults()
    injected = sum(faults[k] for k in ERROR_FAULTS)
    figures.add(
        "operations",
        name,
        {
            "server": be.server,
            "seed": SEED,
            "rate": RATE,
            "operations": OPS,
            "by_kind": dict(Counter(s.kind for s in work.stats)),
            "faults": dict(faults),
            "error_faults": injected,
            "requests_at_proxy": proxy.requests,
            "requests_by_method": dict(proxy.by_method()),
            "objects_written": len(work.store.objects),
            "objects_verified": len(stored),
            "bytes_verified_by_gets": work.bytes_verified,
            "bytes_stored_verified": sum(size for size, _ in stored.values()),
            "objects_lost": len(lost),
            "stream_restarts": work.stream_restarts,
            "heads_cut_short_without_crc32c": work.heads_without_crc,
            "retry_after_checked_at_proxy": clock_checked,
            **owner,
            **delays,
        },
    )


MIGRATIONS = [("s3", "gcs"), ("gcs", "azure"), ("azure", "s3")]


@pytest.mark.parametrize(("src_name", "dst_name"), MIGRATIONS, ids=str)
def test_migration_under_faults(
    src_name: str, dst_name: str, figures: Figures, retry_log: RetryLog, tmp_path: Path
) -> None:
    src_be, dst_be = backend(src_name), backend(dst_name)
    rng = random.Random(f"{SEED}-migrate-{src_name}-{dst_name}")
    with (
        src_be.container() as src_container,
        dst_be.container() as dst_container,
        dst_be.container() as clean_container,
    ):
        expected: dict[str, tuple[int, str]] = {}
        # Written by portacloud, straight to the server, so every source carries its CRC32C
        # (see the report on objects that do not).
        seed_bucket = src_be.open(src_container, src_be.upstream)
        for i in range(MIGRATION_OBJECTS):
            data = rng.randbytes(_size(rng))
            key = f"data/{i:04d}" if i % 7 else f"data/ü {i:04d} +%#.bin"
            seed_bucket.put(key, data)
            expected[key] = (len(data), hashlib.sha256(data).hexdigest())
        seed_bucket.close()

        with (
            FaultProxy(
                src_be.upstream,
                dialect=src_be.dialect,
                schedule=Schedule(SEED + 1, rate=RATE),
                body_filter=src_be.body_filter,
            ) as src_proxy,
            FaultProxy(
                dst_be.upstream,
                dialect=dst_be.dialect,
                schedule=Schedule(SEED + 2, rate=RATE),
                body_filter=dst_be.body_filter,
            ) as dst_proxy,
        ):
            # A clean run first, faults off, to a second destination: what the migration costs
            # in requests when nothing goes wrong.
            with src_proxy.paused(), dst_proxy.paused():
                clean = migrate(
                    src_be.open(src_container, src_proxy.url, small_parts=False),
                    dst_be.open(clean_container, dst_proxy.url, small_parts=False),
                    journal=tmp_path / "clean.sqlite",
                    concurrency=8,
                )
            assert clean.ok, clean.failures
            clean_requests = src_proxy.requests + dst_proxy.requests
            retries_before = retry_log.count

            runs = []
            for _ in range(3):
                result = migrate(
                    src_be.open(src_container, src_proxy.url, small_parts=False),
                    dst_be.open(dst_container, dst_proxy.url, small_parts=False),
                    journal=tmp_path / "faulted.sqlite",
                    concurrency=8,
                )
                runs.append(result)
                if result.ok:
                    break
            requests = src_proxy.requests + dst_proxy.requests - clean_requests
            error_faults = src_proxy.error_faults() + dst_proxy.error_faults()
            faults = src_proxy.faults() + dst_proxy.faults()
        stored = dst_be.raw_digests(dst_container)

    final = runs[-1]
    assert final.ok, final.failures
    assert final.verified == MIGRATION_OBJECTS
    # One run is enough: a damaged read is read again, a write whose answer was lost is settled
    # with a head (or written again), each once per object. Only an object whose both tries
    # met a fault is left for a second run (measured: about one migration in forty).
    first = runs[0].failures
    assert len(runs) == 1 or (len(runs) == 2 and len(first) <= 2), first
    lost = sorted(k for k, v in expected.items() if stored.get(k) != v)
    assert not lost, [(k, expected[k], stored.get(k)) for k in lost[:10]]
    assert set(stored) == set(expected)
    retries = retry_log.events[retries_before:]
    assert len(retries) <= error_faults, "more retries than injected faults"
    bound = clean_requests * POLICY.attempts
    assert requests <= bound
    figures.add(
        "migrations",
        f"{src_name}->{dst_name}",
        {
            "source": src_be.server,
            "destination": dst_be.server,
            "objects": MIGRATION_OBJECTS,
            "bytes": sum(size for size, _ in expected.values()),
            "runs_needed": len(runs),
            "first_run_failures": [str(f) for f in runs[0].failures[:5]],
            "verified": final.verified,
            "faults": dict(faults),
            "error_faults": error_faults,
            "requests_at_proxies": requests,
            "clean_requests": clean_requests,
            "request_bound": bound,
            "retries": len(retries),
            "objects_lost": len(lost),
        },
    )

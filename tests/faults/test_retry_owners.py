"""One retry owner per call path, fault by fault (docs/decisions/0001-retries.md).

Each test aims one fault at one request and counts what follows at the proxy and in the retry
log: a broken download costs exactly one more download and one retry (the Azure SDK's
downloader used to re-send it on its own first), a streamed read resumes where it broke, a
throttle with ``Retry-After`` is waited out once, and a conditional write whose answer was lost
is never reported as a lost race.
"""

from __future__ import annotations

import random
import time

import pytest
from backends import ENGINES, Backend, backend
from conftest import SEED, RetryLog
from proxy import Decision, FaultKind, FaultProxy, Scripted

import portacloud

pytestmark = pytest.mark.usefixtures("backend_env")

MiB = 1024 * 1024


def _data_requests(be: Backend, proxy: FaultProxy) -> int:
    return sum(1 for r in proxy.records if be.body_filter(r.method, r.path, r.query))


def _uploads(be: Backend, proxy: FaultProxy) -> int:
    return sum(1 for r in proxy.records if be.upload_filter(r.method, r.path, r.query))


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("kind", [FaultKind.TRUNCATE, FaultKind.RESET])
def test_a_broken_download_costs_one_retry(name: str, kind: FaultKind, retry_log: RetryLog) -> None:
    be = backend(name)
    data = random.Random(SEED).randbytes(2 * MiB)
    with be.container() as container:
        be.open(container, be.upstream).put("k", data)
        for read in ("get", "open"):
            script = Scripted([(be.body_filter, Decision(kind, cut=0.5))])
            with FaultProxy(
                be.upstream, dialect=be.dialect, schedule=script, body_filter=be.body_filter
            ) as proxy:
                bucket = be.open(container, proxy.url)
                before = retry_log.count
                if read == "get":
                    assert bucket.get("k") == data
                else:
                    with bucket.open("k") as f:
                        assert f.read() == data
                assert proxy.faults()[kind.value] == 1
                assert retry_log.count - before == 1, read
                assert _data_requests(be, proxy) == 2, read


@pytest.mark.parametrize("name", ENGINES)
def test_a_throttle_is_waited_out_once(name: str, retry_log: RetryLog) -> None:
    be = backend(name)
    with be.container() as container:
        script = Scripted([(be.upload_filter, Decision(FaultKind.THROTTLE_503, retry_after=1))])
        with FaultProxy(
            be.upstream, dialect=be.dialect, schedule=script, upload_filter=be.upload_filter
        ) as proxy:
            bucket = be.open(container, proxy.url)
            started = time.monotonic()
            bucket.put("k", b"x" * 1000)
            elapsed = time.monotonic() - started
            assert proxy.faults()["throttle_503"] == 1
            assert _uploads(be, proxy) == 2
        assert retry_log.count == 1
        if bucket.capabilities.retry_after:
            assert retry_log.events[0].retry_after == 1
            assert elapsed >= 1.0
        # Otherwise (engine=obstore, whose errors carry no headers) the capability promises
        # nothing about Retry-After: the retry above waited the policy's backoff, or, where
        # the call went through the SDK (Azure writes), the server's wait.


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("condition", ["if_none_match", "if_match"])
def test_a_lost_answer_is_never_a_lost_race(name: str, condition: str) -> None:
    be = backend(name)
    with be.container() as container:
        direct = be.open(container, be.upstream)
        kwargs: dict[str, str] = {"if_none_match": "*"}
        if condition == "if_match":
            kwargs = {"if_match": direct.put("k", b"before").etag}
        # The server applies the write; its answer is reset half-way.
        script = Scripted([(be.upload_filter, Decision(FaultKind.RESET, cut=0.5))])
        with FaultProxy(
            be.upstream, dialect=be.dialect, schedule=script, upload_filter=be.upload_filter
        ) as proxy:
            bucket = be.open(container, proxy.url)
            ours = b"written by this caller"
            unknown: portacloud.UnavailableError | None = None
            try:
                bucket.put("k", ours, **kwargs)
            except portacloud.FailedPreconditionError as exc:
                pytest.fail(f"the write won but was reported as a lost race: {exc}")
            except portacloud.UnavailableError as exc:
                unknown = exc
            # Honest: the outcome is unknown to the caller, and retrying would not help.
            assert unknown is None or not unknown.retryable
            assert proxy.faults()["reset"] == 1
        assert direct.get("k") == ours


def test_a_throttled_vendor_probe_is_retried_not_misread() -> None:
    be = backend("s3")
    with be.container() as container:
        # The first request of open_bucket asks the server who it is (HEAD bucket).
        script = Scripted([(lambda m, p, q: m == "HEAD", Decision(FaultKind.THROTTLE_503))])
        with FaultProxy(be.upstream, dialect=be.dialect, schedule=script) as proxy:
            bucket = portacloud.open_bucket(be.url(container, proxy.url))
            assert proxy.faults()["throttle_503"] == 1
            # A throttle carries no Server header: taken as an answer, it made the profile
            # "generic" and silently changed the capabilities.
            assert bucket._driver.profile.name == "seaweedfs"  # type: ignore[attr-defined]

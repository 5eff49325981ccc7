"""``RetryPolicy(attempts=1)`` means one request per call, on every cloud backend.

Every matching request is throttled at the proxy; each portable call must send exactly one
such request (counted at the proxy), log no retry, and raise an error that says it is final.
The same calls under the default policy are retried, so the proxy counts more than one. S3 runs
through boto3 and through libcloud, on the same SeaweedFS.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from backends import ENGINES, Backend, backend
from conftest import RetryLog
from proxy import Decision, FaultKind, FaultProxy, Scripted

import portacloud
from portacloud.retry import RetryPolicy

pytestmark = pytest.mark.usefixtures("backend_env")

Match = Callable[[str, str, str], bool]
ONCE = RetryPolicy(attempts=1)
QUICK = RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.05)


def _lists(be: Backend) -> Match:
    def matches(method: str, path: str, query: str) -> bool:
        if method != "GET":
            return False
        return {
            # ListObjectsV2 (boto3) or ListObjects (libcloud): a GET of the bucket itself.
            "s3": path.rstrip("/").count("/") == 1 and "uploads" not in query,
            "gcs": path.endswith("/o"),
            "azure": "comp=list" in query,
        }[be.name]

    return matches


def _calls(be: Backend) -> dict[str, tuple[Match, Callable[[portacloud.Bucket], object]]]:
    def streamed(bucket: portacloud.Bucket) -> None:
        with bucket.open("streamed", "wb") as f:
            f.write(b"s" * 1000)

    return {
        "get": (be.body_filter, lambda b: b.get("k")),
        "put": (be.upload_filter, lambda b: b.put("new", b"n" * 1000)),
        "streamed-write": (be.upload_filter, streamed),
        "list": (_lists(be), lambda b: list(b.list())),
    }


def _throttled(
    be: Backend, container: str, matches: Match, policy: RetryPolicy, *, libcloud: bool = False
) -> tuple[portacloud.Bucket, FaultProxy]:
    script = Scripted([(matches, Decision(FaultKind.THROTTLE_503))] * 20)
    proxy = FaultProxy(
        be.upstream,
        dialect=be.dialect,
        schedule=script,
        body_filter=be.body_filter,
        upload_filter=be.upload_filter,
    )
    proxy.start()
    if libcloud:
        port = proxy.url.rsplit(":", 1)[1]
        url = f"libcloud+s3://{container}?host=127.0.0.1&port={port}&secure=false"
        return portacloud.open_bucket(url, retry=policy), proxy
    return be.open(container, proxy.url, retry=policy), proxy


@pytest.mark.parametrize("name", [*ENGINES, "libcloud+s3"])
@pytest.mark.parametrize("call", ["get", "put", "streamed-write", "list"])
def test_attempts_one_sends_one_request(name: str, call: str, retry_log: RetryLog) -> None:
    libcloud = name == "libcloud+s3"
    be = backend("s3" if libcloud else name)
    matches, run = _calls(be)[call]
    with be.container() as container:
        be.open(container, be.upstream).put("k", b"k" * 1000)
        for policy, most in ((ONCE, 1), (QUICK, 3)):
            bucket, proxy = _throttled(be, container, matches, policy, libcloud=libcloud)
            try:
                before = retry_log.count
                with pytest.raises(portacloud.PortaCloudError) as caught:
                    run(bucket)
                sent = sum(1 for r in proxy.records if matches(r.method, r.path, r.query))
            finally:
                proxy.stop()
            assert caught.value.retryable is False, caught.value
            if policy is ONCE:
                assert sent == 1, f"{sent} requests for one {call} with attempts=1"
                assert retry_log.count == before
                assert "retries are off" in str(caught.value)
            else:
                assert sent == most, f"{sent} requests for one {call} with attempts=3"
                assert "gave up after 3 tries" in str(caught.value)


def test_attempts_one_probes_an_s3_server_once() -> None:
    be = backend("s3")
    with be.container() as container:
        script = Scripted([(lambda m, p, q: m == "HEAD", Decision(FaultKind.THROTTLE_503))] * 20)
        with FaultProxy(be.upstream, dialect=be.dialect, schedule=script) as proxy:
            failures: list[portacloud.PortaCloudError] = []
            try:
                portacloud.open_bucket(be.url(container, proxy.url), retry=ONCE)
            except portacloud.PortaCloudError as exc:
                failures.append(exc)
            assert [e for e in failures if e.retryable] == []
            assert sum(1 for r in proxy.records if r.method == "HEAD") == 1

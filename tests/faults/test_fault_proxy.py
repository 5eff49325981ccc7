"""The fault proxy itself: each fault does what the reliability tests count on."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from proxy import Decision, Dialect, FaultKind, FaultProxy, Schedule, Scripted

BODY = bytes(range(256)) * 64  # 16 KiB


class _Upstream:
    """A tiny origin that counts what reaches it."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                upstream.seen[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.send_header("Location", f"{upstream.url}/next")
                self.end_headers()
                self.wfile.write(BODY)

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                upstream.seen[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    origin = _Upstream()
    yield origin
    origin.close()


def _get(proxy: FaultProxy, path: str = "/obj") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", path)
    return conn.getresponse()


def _always(decision: Decision) -> Scripted:
    return Scripted([(lambda m, p, q: True, decision)])


def test_pass_forwards_and_rewrites_location(upstream: _Upstream) -> None:
    with FaultProxy(upstream.url, dialect=Dialect.S3) as proxy:
        answer = _get(proxy)
        assert answer.status == 200
        assert answer.read() == BODY
        assert answer.getheader("Location") == f"{proxy.url}/next"
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.request("PUT", "/up", body=b"hello", headers={"Expect": "100-continue"})
        assert conn.getresponse().read() == b"hello"
    assert proxy.requests == 2
    assert upstream.seen == {"/obj": 1, "/up": 1}


@pytest.mark.parametrize("dialect", list(Dialect))
def test_throttles_never_reach_the_upstream(upstream: _Upstream, dialect: Dialect) -> None:
    decision = Decision(FaultKind.THROTTLE_503, retry_after=1)
    with FaultProxy(upstream.url, dialect=dialect, schedule=_always(decision)) as proxy:
        answer = _get(proxy)
        body = answer.read()
        assert answer.status == 503
        assert answer.getheader("Retry-After") == "1"
        marker = {Dialect.S3: b"SlowDown", Dialect.GCS: b"backendError"}
        assert marker.get(dialect, b"ServerBusy") in body
    assert not upstream.seen
    assert proxy.faults() == {"throttle_503": 1}


@pytest.mark.parametrize("before", [True, False])
def test_reset_breaks_the_connection(upstream: _Upstream, before: bool) -> None:
    decision = Decision(FaultKind.RESET, cut=0.5, reset_before_upstream=before)
    with (
        FaultProxy(upstream.url, dialect=Dialect.S3, schedule=_always(decision)) as proxy,
        pytest.raises((ConnectionError, http.client.HTTPException)),
    ):
        _get(proxy).read()
    assert upstream.seen["/obj"] == (0 if before else 1)


def test_truncate_sends_less_than_content_length(upstream: _Upstream) -> None:
    decision = Decision(FaultKind.TRUNCATE, cut=0.5)
    with FaultProxy(upstream.url, dialect=Dialect.S3, schedule=_always(decision)) as proxy:
        answer = _get(proxy)
        assert answer.getheader("Content-Length") == str(len(BODY))
        with pytest.raises(http.client.IncompleteRead):
            answer.read()


def test_corrupt_flips_one_byte_of_object_data_only(upstream: _Upstream) -> None:
    script = Scripted(
        [(lambda m, p, q: True, Decision(FaultKind.CORRUPT))] * 2,
    )
    with FaultProxy(
        upstream.url,
        dialect=Dialect.S3,
        schedule=script,
        body_filter=lambda m, p, q: p == "/obj",
    ) as proxy:
        damaged = _get(proxy, "/obj").read()
        untouched = _get(proxy, "/listing").read()
    assert len(damaged) == len(BODY)
    assert sum(a != b for a, b in zip(damaged, BODY, strict=True)) == 1
    assert untouched == BODY
    assert proxy.faults() == {"corrupt": 1}


def test_delay_holds_the_answer(upstream: _Upstream) -> None:
    decision = Decision(FaultKind.DELAY, delay=0.3)
    with FaultProxy(upstream.url, dialect=Dialect.S3, schedule=_always(decision)) as proxy:
        started = time.monotonic()
        assert _get(proxy).read() == BODY
        assert time.monotonic() - started >= 0.3


def test_schedule_is_seeded_and_keeps_its_rate() -> None:
    one, two, other = Schedule(7), Schedule(7), Schedule(8)
    first = [one.draw() for _ in range(5000)]
    assert first == [two.draw() for _ in range(5000)]
    assert first != [other.draw() for _ in range(5000)]
    kinds = Counter(d.kind for d in first)
    faulted = sum(n for k, n in kinds.items() if k is not FaultKind.PASS)
    assert 0.08 < faulted / len(first) < 0.12
    assert set(kinds) == set(FaultKind)

"""A fault-injecting HTTP/1.1 reverse proxy on loopback, for the reliability tests.

One :class:`FaultProxy` forwards to one upstream server (SeaweedFS, fake-gcs-server, Azurite)
and, on a seeded schedule, answers a request with one of the faults clouds really produce:

- ``throttle_503`` / ``throttle_429``: the request is not forwarded; the answer is the
  backend's own throttling error (S3 ``SlowDown`` XML, a GCS JSON error, Azure ``ServerBusy``),
  sometimes with ``Retry-After``;
- ``reset``: the connection is reset (RST), either before the request is forwarded or after
  the upstream applied it, part-way through the response (the dangerous case: the server did
  the work, the client saw a failure);
- ``truncate``: the response is forwarded with its real ``Content-Length`` but ends early and
  the connection is closed cleanly (FIN);
- ``corrupt``: one byte of an object's body is flipped (only for responses the test marks as
  object data, see ``body_filter``), or of an upload's body with ``corrupt_uploads``;
- ``delay``: the answer is held back for a moment, then forwarded intact.

Only the standard library is used. The proxy counts every request (by method and by fault) and
keeps a log of them, so a test can bound the requests a workload made and prove that no layer
retried on top of another.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO
from urllib.parse import urlsplit

__all__ = [
    "ERROR_FAULTS",
    "Decision",
    "Dialect",
    "FaultKind",
    "FaultProxy",
    "RequestRecord",
    "Schedule",
    "Scripted",
]

_MAX_LINE = 64 * 1024
_MAX_HEADERS = 200
#: Hop-by-hop headers (RFC 9110 section 7.6.1) are never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)


class FaultKind(StrEnum):
    """What the proxy did to one request."""

    PASS = "pass"
    THROTTLE_503 = "throttle_503"
    THROTTLE_429 = "throttle_429"
    RESET = "reset"
    TRUNCATE = "truncate"
    CORRUPT = "corrupt"
    DELAY = "delay"


#: Faults after which the client cannot have a good answer: each must cost exactly one retry.
ERROR_FAULTS = frozenset(
    {
        FaultKind.THROTTLE_503,
        FaultKind.THROTTLE_429,
        FaultKind.RESET,
        FaultKind.TRUNCATE,
        FaultKind.CORRUPT,
    }
)

#: How often each fault is drawn, relative to the others, when a request is faulted.
DEFAULT_WEIGHTS: dict[FaultKind, float] = {
    FaultKind.THROTTLE_503: 2.0,
    FaultKind.THROTTLE_429: 1.0,
    FaultKind.RESET: 2.0,
    FaultKind.TRUNCATE: 2.0,
    FaultKind.CORRUPT: 1.0,
    FaultKind.DELAY: 1.0,
}


class Dialect(StrEnum):
    """Whose error body a throttle answer imitates."""

    S3 = "s3"
    GCS = "gcs"
    AZURE = "azure"


@dataclass(frozen=True, slots=True)
class Decision:
    """One draw of the schedule.

    Attributes:
        kind: The fault to apply.
        retry_after: Seconds to put in ``Retry-After`` (throttles only), or ``None``.
        cut: Fraction of the response (or of its headers) sent before a reset or truncation.
        in_headers: A truncation that ends inside the header block even though a body follows
            (HTTP/1.1 clients take end-of-stream there as the end of the headers).
        reset_before_upstream: A reset that happens before the request is forwarded.
        delay: Seconds to hold a delayed answer.
    """

    kind: FaultKind
    retry_after: int | None = None
    cut: float = 0.5
    in_headers: bool = False
    reset_before_upstream: bool = False
    delay: float = 0.0


class Schedule:
    """A seeded sequence of decisions, drawn in the order requests arrive.

    Args:
        seed: Seed of the ``random.Random`` behind the schedule.
        rate: Probability that a request is faulted at all.
        weights: Relative frequency of each fault kind among faulted requests.
        retry_after_share: Share of throttles that carry ``Retry-After``.
        retry_after_seconds: The ``Retry-After`` value they carry.
        max_delay: Longest ``delay`` fault, in seconds.
    """

    def __init__(
        self,
        seed: int,
        *,
        rate: float = 0.10,
        weights: dict[FaultKind, float] | None = None,
        retry_after_share: float = 0.1,
        retry_after_seconds: int = 1,
        max_delay: float = 0.25,
    ) -> None:
        self.seed = seed
        self.rate = rate
        self._weights = dict(weights or DEFAULT_WEIGHTS)
        self._retry_after_share = retry_after_share
        self._retry_after_seconds = retry_after_seconds
        self._max_delay = max_delay
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self, method: str = "", path: str = "", query: str = "") -> Decision:
        """The decision for the next request (its method, path and query are not consulted)."""
        with self._lock:
            rng = self._rng
            if rng.random() >= self.rate or not self._weights:
                return Decision(FaultKind.PASS)
            kinds = list(self._weights)
            kind = rng.choices(kinds, weights=[self._weights[k] for k in kinds])[0]
            retry_after = None
            if (
                kind in (FaultKind.THROTTLE_503, FaultKind.THROTTLE_429)
                and rng.random() < self._retry_after_share
            ):
                retry_after = self._retry_after_seconds
            return Decision(
                kind,
                retry_after=retry_after,
                cut=rng.uniform(0.05, 0.95),
                in_headers=rng.random() < 0.25,
                reset_before_upstream=rng.random() < 0.5,
                delay=rng.uniform(0.01, self._max_delay),
            )


class Scripted:
    """Faults aimed at particular requests: each rule applies to the first request it matches.

    Args:
        rules: ``(matches(method, path, query), decision)`` pairs, used once each, in order.
    """

    def __init__(self, rules: list[tuple[Callable[[str, str, str], bool], Decision]]) -> None:
        self.seed = 0
        self._rules = list(rules)
        self._lock = threading.Lock()

    def draw(self, method: str = "", path: str = "", query: str = "") -> Decision:
        """The first unused rule that matches, or a pass."""
        with self._lock:
            for at, (matches, decision) in enumerate(self._rules):
                if matches(method, path, query):
                    del self._rules[at]
                    return decision
        return Decision(FaultKind.PASS)


@dataclass(slots=True)
class RequestRecord:
    """One request as the proxy saw it.

    Attributes:
        index: Arrival order, from 0.
        method: The HTTP method.
        path: The request target's path (no query).
        query: The request target's query string.
        fault: What was done to it (``pass`` when a drawn fault could not apply).
        retry_after: The ``Retry-After`` sent with a throttle.
        started: ``time.monotonic()`` when the request line arrived.
        answered: ``time.monotonic()`` when the answer (or the fault) was done.
        status: The status sent to the client (0 when none was).
    """

    index: int
    method: str
    path: str
    query: str
    fault: FaultKind = FaultKind.PASS
    retry_after: int | None = None
    started: float = 0.0
    answered: float = 0.0
    status: int = 0


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


@dataclass(slots=True)
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    bodyless: bool  # HEAD, 204, 304: the headers may announce a length that is not sent


class _ClientGone(Exception):
    """The client closed its connection between requests."""


def _read_line(rfile: BinaryIO) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise ValueError("header line too long")
    return line


def _read_request(rfile: BinaryIO, wfile: BinaryIO) -> _Request:
    line = _read_line(rfile)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests (RFC 9112 2.2)
        line = _read_line(rfile)
    if not line:
        raise _ClientGone
    method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        raw = _read_line(rfile)
        if raw in (b"\r\n", b"\n", b""):
            break
        if len(headers) >= _MAX_HEADERS:
            raise ValueError("too many headers")
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    request = _Request(method, target, version, headers, b"")
    expect = request.header("Expect")
    if expect is not None and expect.lower() == "100-continue":
        # The proxy buffers whole bodies, so it says "go on" itself instead of the upstream.
        wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        wfile.flush()
    encoding = (request.header("Transfer-Encoding") or "").lower()
    if "chunked" in encoding:
        request.body = _read_chunked(rfile)
    else:
        length = int(request.header("Content-Length") or 0)
        request.body = rfile.read(length) if length else b""
        if len(request.body) != length:
            raise _ClientGone
    return request


def _read_chunked(rfile: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = _read_line(rfile).split(b";", 1)[0].strip()
        size = int(size_line, 16)
        if size == 0:
            while _read_line(rfile) not in (b"\r\n", b"\n", b""):
                pass  # trailers: dropped, the body is re-sent with a Content-Length
            return b"".join(parts)
        parts.append(rfile.read(size))
        rfile.read(2)


def _throttle_answer(
    dialect: Dialect, status: int, retry_after: int | None, *, head: bool
) -> bytes:
    reason = "Slow Down" if status == 503 else "Too Many Requests"
    headers: list[tuple[str, str]] = []
    if dialect is Dialect.S3:
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message>"
            b"<RequestId>FAULTPROXY</RequestId></Error>"
        )
        headers.append(("Content-Type", "application/xml"))
    elif dialect is Dialect.GCS:
        gcs_reason = "backendError" if status == 503 else "rateLimitExceeded"
        body = (
            f'{{"error": {{"code": {status}, "message": "injected {gcs_reason}", '
            f'"errors": [{{"domain": "global", "reason": "{gcs_reason}", '
            f'"message": "injected {gcs_reason}"}}]}}}}'
        ).encode()
        headers.append(("Content-Type", "application/json; charset=UTF-8"))
    else:
        code = "ServerBusy" if status == 503 else "TooManyRequests"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><Error>'
            f"<Code>{code}</Code><Message>The server is busy.</Message></Error>"
        ).encode()
        headers += [("Content-Type", "application/xml"), ("x-ms-error-code", code)]
        headers.append(("x-ms-request-id", "00000000-0000-0000-0000-000000000000"))
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    headers.append(("Content-Length", str(len(body))))
    head_block = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (head_block + "\r\n").encode("latin-1") + (b"" if head else body)


def _serialize_head(response: _Response) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {response.reason}\r\n"]
    lines += [f"{k}: {v}\r\n" for k, v in response.headers]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


def _flip_one_byte(body: bytes, rng: random.Random) -> bytes:
    position = rng.randrange(len(body))
    damaged = bytearray(body)
    damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


BodyFilter = Callable[[str, str, str], bool]


def _never(method: str, path: str, query: str) -> bool:
    return False


@dataclass
class _Counters:
    requests: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)


class FaultProxy:
    """A threaded reverse proxy in front of one upstream, injecting faults on a schedule.

    Args:
        upstream: The upstream's base URL, ``http://HOST:PORT``.
        dialect: Whose error bodies throttles imitate.
        schedule: The seeded schedule; ``None`` forwards everything untouched.
        body_filter: ``(method, path, query) -> bool``: whether a response body is object data,
            the only kind of body ``corrupt`` touches (a flipped byte in a listing would change
            a key, which no object checksum can see; TLS guards those in real life).
        corrupt_uploads: Corrupt the body of uploads (requests with a body that
            ``upload_filter`` accepts) instead of responses.
        upload_filter: ``(method, path, query) -> bool`` for ``corrupt_uploads``.
        port: Port to listen on (0: any free port).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        upstream: str,
        *,
        dialect: Dialect,
        schedule: Schedule | Scripted | None = None,
        body_filter: BodyFilter = _never,
        corrupt_uploads: bool = False,
        upload_filter: BodyFilter = _never,
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://HOST:PORT, not {upstream!r}")
        self.upstream = f"http://{parts.hostname}:{parts.port}"
        self._upstream_addr = (parts.hostname, parts.port)
        self.dialect = dialect
        self.schedule = schedule
        self.body_filter = body_filter
        self.corrupt_uploads = corrupt_uploads
        self.upload_filter = upload_filter
        self.enabled = True
        self._lock = threading.Lock()
        self._counters = _Counters()
        self.records: list[RequestRecord] = []
        self._corrupt_rng = random.Random(schedule.seed if schedule is not None else 0)
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve_connection(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self._server = Server(("127.0.0.1", port), Handler, bind_and_activate=True)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FaultProxy:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"faultproxy-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Forward everything untouched inside the block (requests are still counted)."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before

    # ------------------------------------------------------------------ figures

    @property
    def requests(self) -> int:
        """Requests received so far."""
        with self._lock:
            return self._counters.requests

    def faults(self) -> Counter[str]:
        """Faults applied so far, by kind (``pass`` excluded)."""
        with self._lock:
            return Counter({k: v for k, v in self._counters.by_fault.items() if k != "pass"})

    def error_faults(self) -> int:
        """Applied faults that leave the client without a good answer."""
        with self._lock:
            return sum(self._counters.by_fault[k] for k in ERROR_FAULTS)

    def by_method(self) -> Counter[str]:
        """Requests so far, by HTTP method."""
        with self._lock:
            return Counter(self._counters.by_method)

    # ------------------------------------------------------------------ serving

    def _serve_connection(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = sock.makefile("rb")
        wfile = sock.makefile("wb")
        upstream: http.client.HTTPConnection | None = None
        try:
            while True:
                try:
                    request = _read_request(rfile, wfile)
                except (_ClientGone, ConnectionError, OSError, ValueError):
                    return
                record = self._record(request)
                decision = self._decide(record)
                try:
                    upstream, keep = self._answer(sock, wfile, request, record, decision, upstream)
                except (ConnectionError, OSError):
                    keep = False
                record.answered = time.monotonic()
                if not keep:
                    return
        finally:
            if upstream is not None:
                upstream.close()
            with contextlib.suppress(OSError):
                rfile.close()
                wfile.close()
                sock.close()

    def _record(self, request: _Request) -> RequestRecord:
        parts = urlsplit(request.target)
        with self._lock:
            record = RequestRecord(
                index=self._counters.requests,
                method=request.method,
                path=parts.path,
                query=parts.query,
                started=time.monotonic(),
            )
            self._counters.requests += 1
            self._counters.by_method[request.method] += 1
            self.records.append(record)
        return record

    def _decide(self, record: RequestRecord) -> Decision:
        if not self.enabled or self.schedule is None:
            return Decision(FaultKind.PASS)
        return self.schedule.draw(record.method, record.path, record.query)

    def _applied(self, record: RequestRecord, kind: FaultKind, status: int = 0) -> None:
        record.fault = kind
        record.status = status
        with self._lock:
            self._counters.by_fault[kind.value] += 1

    def _answer(
        self,
        sock: socket.socket,
        wfile: BinaryIO,
        request: _Request,
        record: RequestRecord,
        decision: Decision,
        upstream: http.client.HTTPConnection | None,
    ) -> tuple[http.client.HTTPConnection | None, bool]:
        """Answer one request; return the upstream connection and whether to keep going."""
        kind = decision.kind
        head = request.method == "HEAD"
        if kind in (FaultKind.THROTTLE_503, FaultKind.THROTTLE_429):
            status = 503 if kind is FaultKind.THROTTLE_503 else 429
            record.retry_after = decision.retry_after
            self._applied(record, kind, status)
            wfile.write(_throttle_answer(self.dialect, status, decision.retry_after, head=head))
            wfile.flush()
            return upstream, True
        if kind is FaultKind.RESET and decision.reset_before_upstream:
            self._applied(record, kind)
            _reset(sock)
            return upstream, False
        parts = urlsplit(request.target)
        upload_corrupted = False
        if (
            kind is FaultKind.CORRUPT
            and self.corrupt_uploads
            and request.body
            and self.upload_filter(request.method, parts.path, parts.query)
        ):
            request.body = _flip_one_byte(request.body, self._corrupt_rng)
            upload_corrupted = True
        upstream, response = self._forward(upstream, request)
        if kind is FaultKind.DELAY:
            time.sleep(decision.delay)
        has_body = bool(response.body) and not response.bodyless
        if kind is FaultKind.RESET:
            self._applied(record, kind, response.status)
            data = _serialize_head(response) + (response.body if has_body else b"")
            # Mid-body when there is one; otherwise part-way through the headers.
            cut = (
                int(len(data) * decision.cut)
                if not has_body
                else len(data) - len(response.body) + int(len(response.body) * decision.cut)
            )
            wfile.write(data[: max(1, cut)])
            wfile.flush()
            _reset(sock)
            return upstream, False
        if kind is FaultKind.TRUNCATE:
            self._applied(record, kind, response.status)
            head_bytes = _serialize_head(response)
            if has_body and not decision.in_headers:
                wfile.write(head_bytes + response.body[: int(len(response.body) * decision.cut)])
            else:
                wfile.write(head_bytes[: max(1, int(len(head_bytes) * decision.cut))])
            wfile.flush()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            return upstream, False
        if kind is FaultKind.CORRUPT and not self.corrupt_uploads:
            if (
                has_body
                and 200 <= response.status < 300
                and self.body_filter(request.method, parts.path, parts.query)
            ):
                response.body = _flip_one_byte(response.body, self._corrupt_rng)
                self._applied(record, kind, response.status)
            else:
                self._applied(record, FaultKind.PASS, response.status)
        elif kind is FaultKind.CORRUPT:
            applied = FaultKind.CORRUPT if upload_corrupted else FaultKind.PASS
            self._applied(record, applied, response.status)
        else:
            self._applied(record, kind, response.status)
        wfile.write(_serialize_head(response) + (b"" if response.bodyless else response.body))
        wfile.flush()
        return upstream, True

    def _forward(
        self, upstream: http.client.HTTPConnection | None, request: _Request
    ) -> tuple[http.client.HTTPConnection, _Response]:
        """Send ``request`` upstream and read the whole answer (reconnecting a stale socket)."""
        for attempt in (1, 2):
            fresh = upstream is None
            if upstream is None:
                upstream = http.client.HTTPConnection(*self._upstream_addr, timeout=120)
            try:
                return upstream, self._exchange(upstream, request)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                upstream.close()
                upstream = None
                # An idle keep-alive socket the upstream had closed: one reconnect, never more,
                # and only for a socket that was reused (a fresh one failing is a real failure).
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _exchange(self, upstream: http.client.HTTPConnection, request: _Request) -> _Response:
        upstream.putrequest(
            request.method, request.target, skip_host=True, skip_accept_encoding=True
        )
        for name, value in request.headers:
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered == "content-length":
                continue
            upstream.putheader(name, value)
        if request.body or request.method in ("PUT", "POST", "PATCH"):
            upstream.putheader("Content-Length", str(len(request.body)))
        upstream.endheaders(request.body or None)
        answer = upstream.getresponse()
        body = answer.read()
        bodyless = request.method == "HEAD" or answer.status in (204, 304)
        headers: list[tuple[str, str]] = []
        for name, value in answer.getheaders():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP:
                continue
            if lowered == "content-length" and not bodyless:
                continue  # set below from the bytes actually read
            if lowered == "location" and value.startswith(self.upstream):
                # Resumable-upload sessions and redirects must come back through the proxy.
                headers.append((name, self.url + value[len(self.upstream) :]))
                continue
            headers.append((name, value))
        if not bodyless:
            headers.append(("Content-Length", str(len(body))))
        if answer.will_close:
            upstream.close()
        return _Response(answer.status, answer.reason, headers, body, bodyless)


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees 'connection reset by peer'."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

"""The endpoint of ``local://`` and ``slurm://`` services: a small load-balancing HTTP proxy.

Run as ``python -m portacloud.services.router --state DIR``. The backend that supervises the
replicas owns ``DIR/backends.json`` and lists there, and only there, the replicas that may get
traffic (ready ones); the router re-reads the file whenever it changes, so taking a replica
out of the file is how it stops getting new requests (a rolling update then waits for its
in-flight requests before stopping it). The router writes ``DIR/router.json`` (its port and
pid) once it listens. It is built on aiohttp's server and client rather than a hand-written
HTTP parser; requests go to the ready replica with the fewest in flight, and a request whose
connection to a replica is refused (a replica that just stopped) goes to the next one: it
never reached the first, so resending it is safe.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import ClientSession, web

__all__ = ["BACKENDS_FILE", "IN_FLIGHT_FILE", "ROUTER_FILE", "Backends", "main"]

BACKENDS_FILE = "backends.json"
_BUFFERED = 1 << 20
ROUTER_FILE = "router.json"
#: Requests in flight per replica URL (only those with some), rewritten when the counts change,
#: so the owner can stop a replica taken out of backends.json once its last request is done.
IN_FLIGHT_FILE = "inflight.json"
_IN_FLIGHT_PERIOD = 0.1

# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own business, never forwarded.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass
class Backends:
    """The ready replicas, reloaded from ``backends.json`` when the file changes."""

    path: Path
    urls: list[str] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    _seen: tuple[int, int] | None = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def refresh(self) -> None:
        """Re-read the file if its mtime or size changed (a stat per request is cheap)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self.urls = []
            return
        seen = (info.st_mtime_ns, info.st_size)
        if seen == self._seen:
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return  # a writer replaces the file atomically; keep the last good list
        self._seen = seen
        self.urls = [str(b["url"]) for b in data.get("backends", ())]

    def order(self) -> list[str]:
        """The replicas to try, fewest requests in flight first (round robin among equals)."""
        self.refresh()
        if not self.urls:
            return []
        start = next(self._turn) % len(self.urls)
        rotated = self.urls[start:] + self.urls[:start]
        return sorted(rotated, key=lambda url: self.in_flight.get(url, 0))


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


async def _forward(
    request: web.Request, session: ClientSession, backends: Backends
) -> web.StreamResponse:
    from aiohttp import ClientConnectorError, web

    body = await request.read() if request.can_read_body else None
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    for url in backends.order():
        backends.in_flight[url] = backends.in_flight.get(url, 0) + 1
        try:
            async with session.request(
                request.method,
                url + request.rel_url.raw_path_qs,
                headers=headers,
                data=body,
                allow_redirects=False,
            ) as upstream:
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
                if 0 <= (upstream.content_length or -1) <= _BUFFERED:
                    payload = await upstream.read()
                    return web.Response(status=upstream.status, body=payload, headers=out)
                # Unknown length or large: stream it (token streams, downloads).
                response = web.StreamResponse(status=upstream.status, headers=out)
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except ClientConnectorError:
            continue  # the request never reached this replica: the next one may take it
        finally:
            backends.in_flight[url] -= 1
    return web.Response(status=503, text="no ready replica\n")


async def _report_in_flight(path: Path, backends: Backends) -> None:
    """Keep ``inflight.json`` current, a few times a second and only when it changed."""
    last: dict[str, int] | None = None
    while True:
        now = {url: n for url, n in backends.in_flight.items() if n > 0}
        if now != last:
            write_json(path, {"in_flight": now})
            last = now
        await asyncio.sleep(_IN_FLIGHT_PERIOD)


async def _serve(state: Path, host: str, port: int) -> None:
    from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

    backends = Backends(state / BACKENDS_FILE)
    session = ClientSession(
        connector=TCPConnector(limit=0, force_close=False),
        timeout=ClientTimeout(total=None, sock_connect=5),
        auto_decompress=False,
    )

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _forward(request, session, backends)

    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = int(runner.addresses[0][1])
    write_json(state / ROUTER_FILE, {"port": bound, "host": host, "pid": os.getpid()})
    reporter = asyncio.create_task(_report_in_flight(state / IN_FLIGHT_FILE, backends))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    reporter.cancel()
    await runner.cleanup()
    await session.close()


def main(argv: list[str] | None = None) -> None:
    """Run the router until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m portacloud.services.router")
    parser.add_argument("--state", required=True, type=Path, help="the service's state dir")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        _run(_serve(args.state, args.host, args.port))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (about twice the requests per second of asyncio's
    own loop through this proxy), else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


if __name__ == "__main__":
    main()

"""HTTP readiness probes, run beside the controller's loop so a slow replica never stalls it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

__all__ = ["ProbeResult", "Prober", "probe"]


@dataclass(frozen=True)
class ProbeResult:
    """One probe's outcome.

    Attributes:
        ok: A 2xx or 3xx answer came in time.
        detail: What went wrong (``HTTP 503``, ``connection refused``), when not ok.
    """

    ok: bool
    detail: str | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a 3xx is an answer: ready, as Kubernetes counts it


# Probes go straight to the replica: a proxy from the environment must never answer for it.
_NO_REDIRECT_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def probe(url: str, *, timeout: float) -> ProbeResult:
    """``GET url``: ok on 2xx and 3xx, not ok on anything else or no answer."""
    try:
        with _NO_REDIRECT_OPENER.open(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return ProbeResult(False, f"no answer: {reason}")
    if 200 <= status < 400:
        return ProbeResult(True)
    return ProbeResult(False, f"HTTP {status}")


class Prober:
    """Runs at most one probe per replica at a time, on a small thread pool."""

    def __init__(self, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        self._running: dict[str, Future[ProbeResult]] = {}
        self._last: dict[str, float] = {}

    def due(self, replica: str, period: float) -> bool:
        """Whether ``replica`` has no probe in flight and its period has passed."""
        if replica in self._running:
            return False
        return time.monotonic() - self._last.get(replica, float("-inf")) >= period

    def start(self, replica: str, url: str, *, timeout: float) -> None:
        """Probe ``url`` for ``replica`` in the background."""
        self._last[replica] = time.monotonic()
        self._running[replica] = self._pool.submit(probe, url, timeout=timeout)

    def result(self, replica: str) -> ProbeResult | None:
        """The finished probe's result (taken once), or ``None`` while none has finished."""
        future = self._running.get(replica)
        if future is None or not future.done():
            return None
        del self._running[replica]
        return future.result()

    def forget(self, replica: str) -> None:
        """Drop what is known of a replica (it restarted or stopped)."""
        self._running.pop(replica, None)
        self._last.pop(replica, None)

    def close(self) -> None:
        """Stop the pool without waiting for probes in flight."""
        self._pool.shutdown(wait=False, cancel_futures=True)

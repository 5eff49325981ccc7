"""Helpers of the services suite: the test app's spec, HTTP reads and a steady request loop."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import portacloud
from portacloud import ServiceSpec, ServiceState, ServiceStatus

#: Generous bounds: a Slurm job or a Ray Serve replica takes seconds to start.
WAIT = 120.0
APP_MODULE = "portacloud_conformance.services.app"
#: Short probes keep the suite fast; a real service would probe every few seconds.
FAST_READINESS = {"path": "/healthz", "period": 0.3, "timeout": 2.0, "failure_threshold": 2}


def unique_name(kind: str) -> str:
    """A service name no other test (or earlier run) uses."""
    return f"c-{kind}-{uuid.uuid4().hex[:6]}"


def app_spec(
    name: str,
    python: str,
    *,
    env: Mapping[str, str] | None = None,
    **fields: Any,
) -> ServiceSpec:
    """A spec that runs the suite's test app (``portacloud_conformance.services.app``)."""
    fields.setdefault("readiness", FAST_READINESS)
    return ServiceSpec(name=name, command=(python, "-m", APP_MODULE), env=dict(env or {}), **fields)


@contextlib.contextmanager
def deployed(
    services: portacloud.Services, spec: ServiceSpec, *, ready: bool = True
) -> Iterator[ServiceStatus]:
    """Deploy ``spec`` (waiting until READY unless ``ready`` is false) and delete it after."""
    status = services.deploy(spec)
    try:
        yield services.wait(spec.name, timeout=WAIT) if ready else status
    finally:
        with contextlib.suppress(portacloud.NotFoundError):
            services.delete(spec.name)


def fetch(url: str, *, timeout: float = 10.0) -> tuple[int, dict[str, Any] | None]:
    """GET ``url``: the status code and the JSON body (``None`` when not JSON); a refused
    connection is status 0."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def served(endpoint: str, *, count: int) -> list[dict[str, Any]]:
    """``count`` answers of the test app through the endpoint; fails on any non-200."""
    answers = []
    for _ in range(count):
        status, body = fetch(endpoint)
        assert status == 200, f"GET {endpoint} answered {status}"
        assert body is not None, f"GET {endpoint} answered no JSON"
        answers.append(body)
    return answers


def wait_for(
    read: Callable[[], ServiceStatus], done: Callable[[ServiceStatus], bool], what: str
) -> ServiceStatus:
    """Poll ``read`` until ``done``; fail naming ``what`` and the last state after WAIT s."""
    deadline = time.monotonic() + WAIT
    while True:
        status = read()
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {status.state} after {WAIT} s ({status.reason})")
        time.sleep(0.3)


@dataclass
class RequestLoop:
    """Requests the endpoint back to back in a thread, counting answers and failures."""

    endpoint: str
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RequestLoop:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body = fetch(self.endpoint)
            if status == 200 and body is not None:
                self.ok += 1
                self.versions[str(body.get("version"))] += 1
            else:
                self.failures.append(f"status {status}")
            time.sleep(0.01)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def ready_count(status: ServiceStatus) -> int:
    """READY replicas, of any version."""
    return sum(1 for r in status.replicas if r.state is ServiceState.READY)

"""Rolling updates: no failed request, never too few ready replicas, the new version serves."""

from __future__ import annotations

import threading
import time

import pytest

import portacloud
from portacloud import ServiceState
from portacloud_conformance.services.support import (
    WAIT,
    RequestLoop,
    app_spec,
    deployed,
    ready_count,
    served,
    unique_name,
)


def test_rolling_update_drops_no_request(services: portacloud.Services, job_python: str) -> None:
    if not services.capabilities.rolling_update:
        pytest.skip("capability rolling_update is false")
    name = unique_name("roll")
    old = app_spec(name, job_python, env={"APP_VERSION": "1"}, replicas=2)
    new = old.model_copy(update={"env": {"APP_VERSION": "2"}})
    with deployed(services, old) as status:
        assert status.endpoint_url
        lowest = _LowestReady(services, name)
        with RequestLoop(status.endpoint_url) as loop, lowest:
            time.sleep(0.5)
            services.update(new)
            done = services.wait(name, timeout=WAIT)
            time.sleep(0.5)
        assert done.version == 2
        assert loop.failures == [], f"{len(loop.failures)} of {loop.ok} requests failed"
        assert loop.versions["2"] > 0, "the new version served during the loop"
        floor = old.initial_replicas - old.update.max_unavailable
        assert lowest.value >= floor, f"only {lowest.value} ready replicas during the update"
        assert {a["version"] for a in served(status.endpoint_url, count=10)} == {"2"}
        assert all(r.version == 2 for r in done.replicas)


def test_updating_an_unknown_service_is_not_found(
    services: portacloud.Services, job_python: str
) -> None:
    with pytest.raises(portacloud.NotFoundError):
        services.update(app_spec(unique_name("ghost"), job_python))


class _LowestReady:
    """The fewest READY replicas seen while polling in a thread."""

    def __init__(self, services: portacloud.Services, name: str) -> None:
        self._services, self._name = services, name
        self.value = 1_000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self._services.get(self._name)
            if status.state is not ServiceState.FAILED:
                self.value = min(self.value, ready_count(status))
            time.sleep(0.1)

    def __enter__(self) -> _LowestReady:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

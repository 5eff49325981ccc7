"""Helpers of the local:// services tests: the test replica's spec, HTTP, pids."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from portacloud.services.controller_state import ControllerState

APP = (sys.executable, "-m", "portacloud_conformance.services.app")
# Direct to 127.0.0.1: a proxy from the environment must not answer for the router.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def app_spec(name: str, replicas: int = 1, **extra: Any) -> dict[str, Any]:
    """A spec of the conformance test replica with quick probes."""
    env = extra.pop("env", {})
    return {
        "name": name,
        "command": list(APP),
        "replicas": replicas,
        "env": {"APP_VERSION": "1", **env},
        "readiness": {"path": "/healthz", "period": 0.2, "timeout": 1.0, "failure_threshold": 2},
        **extra,
    }


def fetch(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url``: the status code and body (errors as their code)."""
    try:
        with OPENER.open(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def service_dir(name: str, queue: str = "default") -> Path:
    return Path(os.environ["PORTACLOUD_HOME"]) / "services" / queue / name


def replica_pids(name: str) -> list[int]:
    """The pids the controller recorded for the service's replicas."""
    state = ControllerState.load(service_dir(name))
    assert state is not None
    return [int(r.token.split(":")[0]) for r in state.replicas if r.token]

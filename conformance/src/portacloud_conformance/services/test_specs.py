"""Bad specs are refused before anything starts, with one clear error naming the field."""

from __future__ import annotations

from typing import Any

import pytest

import portacloud
from portacloud_conformance.services.support import app_spec, unique_name

_BAD: list[tuple[dict[str, Any], str]] = [
    ({"name": "has space", "command": "x"}, "name"),
    ({"name": "ok", "command": ""}, "command"),
    ({"name": "ok", "command": "x", "env": {"PORT": "80"}}, "PORT"),
    ({"name": "ok", "command": "x", "env": {"PORTACLOUD_X": "1"}}, "reserved"),
    ({"name": "ok", "command": "x", "replicas": -1}, "replicas"),
    ({"name": "ok", "command": "x", "replicas": {"min": 3, "max": 2}}, "min"),
    ({"name": "ok", "command": "x", "readiness": {"path": "healthz"}}, "path"),
    ({"name": "ok", "command": "x", "readiness": {"period": 0}}, "period"),
    ({"name": "ok", "command": "x", "update": {"max_surge": 0, "max_unavailable": 0}}, "max_"),
    ({"name": "ok", "command": "x", "replica": 2}, "replica"),
    ({"name": "ok", "command": "x", "resources": {"gpus": "NOPE:1"}}, "NOPE"),
]


@pytest.mark.parametrize(("spec", "named"), _BAD, ids=[n for _, n in _BAD])
def test_a_bad_spec_is_refused_before_anything_starts(
    services: portacloud.Services, spec: dict[str, Any], named: str
) -> None:
    before = {s.name for s in services.list()}
    with pytest.raises(portacloud.InvalidArgumentError, match=named):
        services.deploy(spec)
    assert {s.name for s in services.list()} == before


def test_what_the_backend_cannot_do_is_unsupported_up_front(
    services: portacloud.Services, job_python: str
) -> None:
    caps = services.capabilities
    wanted: dict[str, dict[str, Any]] = {
        "images": {"image": "127.0.0.1:1/none/such:1"},
        "autoscaling": {"replicas": {"min": 1, "max": 3}},
        "gpus": {"resources": {"gpus": 1}},
    }
    missing = [capability for capability in wanted if not getattr(caps, capability)]
    if not missing:
        pytest.skip("the backend has images, autoscaling and gpus")
    before = {s.name for s in services.list()}
    for capability in missing:
        spec = app_spec(unique_name("unsup"), job_python, **wanted[capability])
        with pytest.raises(portacloud.UnsupportedError, match=capability):
            services.deploy(spec)
    assert {s.name for s in services.list()} == before

"""local:// replicas in container images, run by real podman (skipped where there is none).

Needs the test registry's python image: ``set -a; source .lab/services.env`` gives
PORTACLOUD_TEST_IMAGE_PYTHON and the podman configuration (CONTAINERS_CONF) this machine needs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from svc_helpers import fetch

import portacloud_conformance.services.app as test_app
from portacloud.errors import FailedPreconditionError
from portacloud.services.services import Services

_IMAGE = os.environ.get("PORTACLOUD_TEST_IMAGE_PYTHON")
pytestmark = pytest.mark.skipif(
    not _IMAGE or shutil.which("podman") is None,
    reason="no podman or no PORTACLOUD_TEST_IMAGE_PYTHON (source .lab/services.env)",
)
_READINESS = {"path": "/healthz", "period": 0.3, "timeout": 2.0, "failure_threshold": 2}


def test_replicas_serve_from_the_image(services: Services, tmp_path: Path) -> None:
    assert services.capabilities.images
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(test_app.__file__, site / "app.py")
    spec = {
        "name": "boxed",
        "image": _IMAGE,
        "command": "[ -e /etc/os-release ] || echo in-the-image; exec python app.py",
        "workdir": str(site),
        "replicas": 2,
        "env": {"APP_VERSION": "img"},
        "readiness": _READINESS,
    }
    services.deploy(spec)
    status = services.wait("boxed", timeout=120)
    answers = [json.loads(fetch(f"{status.endpoint_url}/")[1]) for _ in range(6)]
    assert {a["version"] for a in answers} == {"img"}
    assert {a["replica"] for a in answers} == {r.id for r in status.replicas}
    assert services.logs("boxed").count("in-the-image") == 2
    services.delete("boxed")
    assert services.list() == []


def test_an_image_that_cannot_be_pulled_fails_the_service(services: Services) -> None:
    spec = {
        "name": "nopull",
        "image": "127.0.0.1:1/portacloud/missing:1",
        "command": "python app.py",
        "max_start_failures": 1,
        "readiness": _READINESS,
    }
    services.deploy(spec)
    with pytest.raises(FailedPreconditionError, match="cannot pull image"):
        services.wait("nopull", timeout=60)

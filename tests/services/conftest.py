"""local:// services against real processes: each test gets its own home and cleans up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import pytest

import portacloud
from portacloud.errors import PortaCloudError
from portacloud.services.services import Services


@pytest.fixture
def services() -> Iterator[Services]:
    handle = portacloud.open_services("local://?gpus=2")
    yield handle
    for status in handle.list():  # nothing a test started may outlive it
        with suppress(PortaCloudError):
            handle.delete(status.name)
    handle.close()

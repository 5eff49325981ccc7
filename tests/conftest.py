"""Shared test set-up: every test gets its own PORTACLOUD_HOME and no stray profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("portacloud-home")
    monkeypatch.setenv("PORTACLOUD_HOME", str(home))
    monkeypatch.delenv("PORTACLOUD_PROFILE", raising=False)
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(home / "no-such-config.toml"))
    return home


@pytest.fixture(scope="module")
def slurm_conf() -> str:
    """The test cluster's slurm.conf (scripts/servers/slurm.sh); with CI=true a missing one
    fails the test instead of skipping it."""
    conf = os.environ.get("PORTACLOUD_TEST_SLURM_CONF")
    if conf:
        return conf
    if os.environ.get("CI") == "true":
        pytest.fail("slurm not running: scripts/services.sh start (PORTACLOUD_TEST_SLURM_CONF)")
    pytest.skip("slurm not running: scripts/services.sh start")

"""Shared test set-up: every test gets its own PORTACLOUD_HOME and no stray profile."""

from __future__ import annotations

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

"""The README's compute example on local:// with a relative ``PORTACLOUD_HOME``.

The sandbox process runs in its own directory, so it was handed a path relative to the
caller's directory that it could not find: it died at once and the instance went to ERROR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from portacloud import InstanceSpec, InstanceState, Resources, open_compute


def test_an_instance_starts_under_a_relative_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTACLOUD_HOME", "home")
    with open_compute("local://") as compute:
        vm = compute.create(InstanceSpec(name="trainer", resources=Resources(cpus=1)))
        try:
            running = compute.wait(vm.id, "RUNNING", timeout=60)
            assert running.state is InstanceState.RUNNING
            assert (
                tmp_path / "home" / "compute" / "default" / vm.id / "sandbox" / "ready"
            ).exists()
        finally:
            assert compute.terminate(vm.id).state is InstanceState.TERMINATED

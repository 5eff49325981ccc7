"""A profile that leaves a target out gets the embedded default's; state paths are absolute."""

from __future__ import annotations

from pathlib import Path

import pytest

import portacloud
from portacloud import JobState


@pytest.fixture
def storage_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "portacloud.toml"
    config.write_text(f'[profiles.default]\nstorage = "{(tmp_path / "data").as_uri()}"\n')
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    return tmp_path


def test_a_storage_only_profile_runs_jobs_on_local(storage_only: Path) -> None:
    with portacloud.connect() as conn:
        assert conn.profile.jobs == "local://"
        assert conn.profile.compute == "local://"
        job = conn.jobs.submit(portacloud.JobSpec(name="hello", command="echo hi"))
        assert conn.jobs.wait(job.id, timeout=60).state is JobState.SUCCEEDED
        # outputs still go under the profile's own storage
        assert job.output_uri is not None
        assert job.output_uri.startswith((storage_only / "data").as_uri())


def test_a_jobs_only_profile_stores_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text('[profiles.gpu]\njobs = "local://gpu?gpus=1"\n')
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    profile = portacloud.load_profile("gpu")
    assert profile.jobs == "local://gpu?gpus=1"
    assert profile.storage == (portacloud.portacloud_home() / "storage").as_uri()
    assert profile.compute == "local://"


def test_a_hand_made_profile_is_completed_too() -> None:
    conn = portacloud.Connection(portacloud.Profile(name="adhoc", storage="memory://adhoc"))
    assert conn.jobs.url.startswith("local://")
    assert conn.compute.url.startswith("local://")
    assert conn.storage.url == "memory://adhoc"


def test_a_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTACLOUD_HOME", "rel-home")
    assert portacloud.portacloud_home() == tmp_path / "rel-home"
    # a file:// URL cannot be relative: this raised ValueError before
    portacloud.connect().storage.put("k", b"v")
    assert (tmp_path / "rel-home" / "storage" / "k").read_bytes() == b"v"

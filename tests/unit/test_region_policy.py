"""Region policies on the embedded backends, which cannot tell their region, and in profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

import portacloud
from portacloud.compute.catalog import offers
from portacloud.errors import InvalidArgumentError, PermissionDeniedError
from portacloud.profiles import Profile, load_profile
from portacloud.residency import RegionPolicy
from portacloud.resources import Resources


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text(body)
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    monkeypatch.setenv("PORTACLOUD_HOME", str(tmp_path / "home"))


def test_patterns_are_globs_without_case() -> None:
    policy = RegionPolicy(profile="p", regions=("eu-*", "europe-west4"))
    assert policy.allows("eu-west-1")
    assert policy.allows("EUROPE-WEST4")
    assert not policy.allows("us-east-1")
    assert not policy.allows("europe-west1")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("regions = []", "at least one non-empty pattern"),
        ('regions = [""]', "at least one non-empty pattern"),
        ('residency = "strict"', "need a regions list"),
        ('regions = ["eu-*"]\nresidency = "always"', "residency"),
        ('regions = ["eu-*"]\nunknown_region = "maybe"', "unknown_region"),
        ('region = ["eu-*"]', "unknown setting 'region'"),
    ],
)
def test_a_malformed_policy_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, says: str
) -> None:
    _config(tmp_path, monkeypatch, f"[profiles.p]\n{body}\n")
    with pytest.raises(InvalidArgumentError, match=says):
        load_profile("p")


def test_file_storage_under_a_policy_is_refused_unless_unknown_regions_are_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _config(
        tmp_path,
        monkeypatch,
        f'[profiles.deny]\nstorage = "{data.as_uri()}"\nregions = ["eu-*"]\n'
        f'[profiles.allow]\nstorage = "{data.as_uri()}"\nregions = ["eu-*"]\n'
        'unknown_region = "allow"\n',
    )
    with portacloud.connect("deny") as conn:
        with pytest.raises(PermissionDeniedError, match="does not report its region"):
            conn.storage.put("k", b"v")
        assert conn.storage.region() is None
    assert list(data.iterdir()) == []  # no object, no temp file
    with portacloud.connect("allow") as conn:
        conn.storage.put("k", b"v")
    assert (data / "k").read_bytes() == b"v"


def test_local_jobs_and_compute_follow_the_unknown_region_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, monkeypatch, '[profiles.eu]\nregions = ["eu-*"]\n')
    with portacloud.connect("eu") as conn:
        with pytest.raises(PermissionDeniedError, match="starting job 'j'"):
            conn.jobs.submit({"name": "j", "command": ["true"]})
        assert conn.jobs.list() == []
        with pytest.raises(PermissionDeniedError, match="starting instance 'vm'"):
            conn.compute.create({"name": "vm", "instance_type": "local"})
        assert conn.compute.list() == []


def test_offers_keep_only_allowed_regions() -> None:
    policy = RegionPolicy(profile="p", regions=("eu-*",))
    found = offers(Resources(cpus=2), providers=["aws", "local"], policy=policy)
    assert found
    assert all(o.region.startswith("eu-") for o in found)
    allowing = policy.model_copy(update={"unknown_region": "allow"})
    assert any(
        o.provider == "local"
        for o in offers(Resources(cpus=1), providers=["local"], policy=allowing)
    )


def test_a_profile_object_binds_open_bucket(tmp_path: Path) -> None:
    profile = Profile(name="p", regions=("eu-*",), residency="strict")
    (tmp_path / "k").write_bytes(b"there")
    with portacloud.open_bucket(tmp_path.as_uri(), profile=profile) as bucket:
        with pytest.raises(PermissionDeniedError, match="reading from"):
            bucket.get("k")
        bucket.delete("k")  # deletes are never refused
    assert not (tmp_path / "k").exists()


def test_the_fsspec_face_of_a_profile_keeps_its_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    data = tmp_path / "data"
    data.mkdir()
    _config(
        tmp_path, monkeypatch, f'[profiles.eu]\nstorage = "{data.as_uri()}"\nregions = ["eu-*"]\n'
    )
    fs = fsspec.filesystem("portacloud", profile="eu", skip_instance_cache=True)
    with pytest.raises(PermissionError, match="region policy of profile 'eu'"):
        fs.pipe_file("k", b"v")  # the fsspec face speaks OSError
    assert list(data.iterdir()) == []

"""URL opening, provider discovery, profiles and connect()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import portacloud


def test_import_loads_no_vendor_sdk_and_no_pydantic() -> None:
    code = (
        "import sys, portacloud; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3','botocore','google','azure','libcloud','ray',"
        "'pydantic','tenacity','click','rich')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_memory_and_file_schemes_are_registered() -> None:
    assert {"memory", "file"} <= set(portacloud.available_schemes())


@pytest.mark.parametrize(
    ("url", "package"),
    [("s3://b", "aws"), ("gs://b", "gcp"), ("az://c", "azure"), ("libcloud+s3://b", "libcloud")],
)
def test_known_uninstalled_scheme_says_what_to_install(url: str, package: str) -> None:
    from portacloud.registry import Registry

    with pytest.raises(
        portacloud.UnsupportedError, match=rf'pip install "portacloud\[{package}\]"'
    ):
        portacloud.open_bucket(url, registry=Registry({}))


def test_unknown_scheme_lists_installed() -> None:
    with pytest.raises(portacloud.UnsupportedError, match=r"installed schemes: .*file.*memory"):
        portacloud.open_bucket("ftp2://host/x")


@pytest.mark.parametrize(
    "url",
    [
        "memory://user:secret@b",
        "memory://b?aws_secret_access_key=x",
        "memory://b?sas_token=x",
        "memory://b?password=x",
        "memory://b?account_key=x",
        "memory://b?sig=abc",
    ],
)
def test_credentials_in_urls_are_refused(url: str) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="credentials"):
        portacloud.open_bucket(url)


@pytest.mark.parametrize("url", ["not a url", "", "memory:/x", 42])
def test_malformed_urls_are_invalid_argument(url: object) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        portacloud.open_bucket(url)  # type: ignore[arg-type]


def test_unknown_option_is_named() -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="colour"):
        portacloud.open_bucket("memory://b?colour=blue")
    with pytest.raises(portacloud.InvalidArgumentError, match="colour"):
        portacloud.open_bucket("memory://b", colour="blue")


def test_file_url_must_be_absolute() -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="file:///abs/path"):
        portacloud.open_bucket("file://relative/path")


def test_url_prefix_scopes_keys() -> None:
    outer = portacloud.open_bucket("memory://scoped")
    inner = portacloud.open_bucket("memory://scoped/team/a")
    inner.put("k", b"x")
    assert [e.key for e in outer.list()] == ["team/ak"]
    assert [e.key for e in inner.list()] == ["k"]


def test_default_profile_is_local_storage_under_home() -> None:
    conn = portacloud.connect()
    assert conn.profile.name == "default"
    conn.storage.put("hello", b"world")
    home = portacloud.portacloud_home()
    assert (home / "storage" / "hello").read_bytes() == b"world"


def test_profiles_from_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text(
        '[profiles.default]\nstorage = "memory://dflt"\n'
        '[profiles.prod]\nstorage = "memory://prod"\njobs = "local://"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    assert portacloud.connect().storage.url == "memory://dflt"
    assert portacloud.connect("prod").storage.url == "memory://prod"
    monkeypatch.setenv("PORTACLOUD_PROFILE", "prod")
    assert portacloud.load_profile().jobs == "local://"
    with pytest.raises(portacloud.NotFoundError, match="prod"):
        portacloud.load_profile("staging")


def test_profile_in_project_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "portacloud.toml").write_text('[profiles.default]\nstorage = "memory://proj"\n')
    monkeypatch.delenv("PORTACLOUD_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert portacloud.load_profile().storage == "memory://proj"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('storage = "s3://b?secret_access_key=x"', "credentials"),
        ('aws_secret_access_key = "x"', "unknown setting"),
        ('storage = "memory://u:p@b"', "credentials"),
    ],
)
def test_profiles_never_hold_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, match: str
) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text(f"[profiles.default]\n{body}\n")
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    with pytest.raises(portacloud.InvalidArgumentError, match=match) as caught:
        portacloud.load_profile()
    assert "secret_access_key = " not in str(caught.value)


def test_bad_toml_is_invalid_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text("[profiles.default\n")
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    with pytest.raises(portacloud.InvalidArgumentError, match="TOML"):
        portacloud.load_profile()


def test_profile_storage_engine_from_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text(
        '[profiles.default]\nstorage_engine = "sdk"\n[profiles.bad]\nstorage_engine = "rust"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    assert portacloud.load_profile().storage_engine == "sdk"
    with pytest.raises(portacloud.InvalidArgumentError, match="storage_engine") as caught:
        portacloud.load_profile("bad")
    assert "\n" not in str(caught.value)

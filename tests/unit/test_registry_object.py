"""The provider registry as an object: typed providers, families, and the retry policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult

import pytest

import portacloud
from portacloud.providers.memory import MemoryDriver
from portacloud.registry import Registry
from portacloud.retry import RetryPolicy


class _Recorder:
    """A storage provider that records what its opener was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], RetryPolicy | None]] = []

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
    ) -> tuple[MemoryDriver, str]:
        self.calls.append((url.scheme, dict(options), retry))
        return MemoryDriver(f"registry-test-{url.netloc}"), ""


class _OldStyle:
    """A provider written before openers took the retry policy."""

    def open_bucket(self, url: SplitResult, options: Mapping[str, Any]) -> tuple[MemoryDriver, str]:
        return MemoryDriver(f"registry-old-{url.netloc}"), ""


def test_a_registry_opens_only_what_it_was_given() -> None:
    registry = Registry({"rec": _Recorder()})
    assert registry.schemes() == ["rec"]
    with pytest.raises(portacloud.UnsupportedError, match="installed schemes: rec"):
        registry.open_bucket("memory://b")


def test_the_retry_policy_and_the_options_reach_the_opener() -> None:
    recorder = _Recorder()
    policy = RetryPolicy(attempts=1)
    bucket = Registry({"rec": recorder}).open_bucket("rec://b?x=1", retry=policy, y=2)
    bucket.put("k", b"v")
    assert recorder.calls == [("rec", {"x": "1", "y": 2}, policy)]


def test_an_opener_without_a_retry_parameter_still_opens() -> None:
    bucket = Registry({"old": _OldStyle()}).open_bucket("old://b")
    bucket.put("k", b"v")
    assert bucket.get("k") == b"v"


def test_a_family_serves_its_variants() -> None:
    recorder = _Recorder()
    Registry({"fam": recorder}).open_bucket("fam+variant://b")
    assert recorder.calls[0][0] == "fam+variant"


def test_a_provider_without_the_opener_is_refused_by_name() -> None:
    registry = Registry({"rec": _Recorder()})
    with pytest.raises(portacloud.UnsupportedError, match=r"'rec://' \(.*_Recorder\) does not run"):
        registry.open_jobs("rec://q")
    with pytest.raises(portacloud.UnsupportedError, match="does not manage instances"):
        registry.open_compute("rec://r")


def test_an_option_in_the_url_and_the_call_is_refused() -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="given both"):
        Registry({"rec": _Recorder()}).open_bucket("rec://b?x=1", x=2)


def test_a_profile_retry_table_reaches_every_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text(
        f'[profiles.p]\nstorage = "{(tmp_path / "data").as_uri()}"\n'
        "[profiles.p.retry]\nattempts = 1\nmax_delay = 2.0\n"
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    profile = portacloud.load_profile("p")
    assert profile.retry == RetryPolicy(attempts=1, max_delay=2.0)
    with portacloud.connect("p") as conn:
        assert conn.storage._retry == profile.retry


def test_memory_buckets_can_be_forgotten() -> None:
    from portacloud.providers import memory

    bucket = portacloud.open_bucket("memory://forget-me")
    bucket.put("k", b"v")
    memory.forget("forget-me")
    assert list(bucket.list()) == []
    assert list(portacloud.open_bucket("memory://forget-me").list()) == []

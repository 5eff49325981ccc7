"""Azure's account region: the mapping of the management API's answer (no ARM server here)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import portacloud
from portacloud.errors import NotFoundError, PermissionDeniedError
from portacloud.profiles import Profile
from portacloud_azure import location

# Azurite's published development account; nothing is sent to its endpoint here.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONNECTION = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
    "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


class _Management:
    def __init__(self, accounts: list[tuple[str, str]], seen: list[str]) -> None:
        listed = [SimpleNamespace(name=n, location=loc) for n, loc in accounts]
        self.storage_accounts = SimpleNamespace(list=lambda: iter(listed))
        self._seen = seen

    def close(self) -> None:
        self._seen.append("closed")


def _fake(monkeypatch: pytest.MonkeyPatch, accounts: list[tuple[str, str]]) -> list[str]:
    seen: list[str] = []

    def factory(subscription_id: str) -> Any:
        seen.append(subscription_id)
        return _Management(accounts, seen)

    monkeypatch.setattr(location, "_management_client", factory)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONNECTION)
    return seen


def test_without_a_subscription_the_region_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _fake(monkeypatch, [("devstoreaccount1", "westeurope")])
    with portacloud.open_bucket("az://data") as bucket:
        assert not bucket.capabilities.location
        assert bucket.region() is None
    assert seen == []


@pytest.mark.parametrize("engine", ["sdk", "obstore"])
def test_the_account_region_comes_from_the_management_api(
    monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    seen = _fake(monkeypatch, [("other", "eastus"), ("devstoreaccount1", "WestEurope")])
    url = f"az://data?subscription_id=sub-1&engine={engine}"
    with portacloud.open_bucket(url) as bucket:
        assert bucket.capabilities.location
        assert bucket.region() == "westeurope"
        assert bucket.region() == "westeurope"  # asked once per handle
    assert seen == ["sub-1", "closed"]
    outside = Profile(name="us", regions=("east*",))
    with (
        portacloud.open_bucket(url, profile=outside) as bucket,
        pytest.raises(PermissionDeniedError, match="region westeurope"),
    ):
        bucket.put("k", b"never sent")


def test_an_account_the_subscription_lacks_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, [("other", "eastus")])
    missing = "'devstoreaccount1' is not in subscription sub-1"
    with (
        portacloud.open_bucket("az://data?subscription_id=sub-1") as bucket,
        pytest.raises(NotFoundError, match=missing),
    ):
        bucket.region()

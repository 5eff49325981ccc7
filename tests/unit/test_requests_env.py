"""The Azure and GCS SDK sessions read proxies and the CA bundle once per host.

requests would look both up in the environment for every request (about 0.5 ms of CPU each
on this machine); the settled session must answer exactly what requests answers, only once.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests.sessions

from portacloud.providerkit.requests_env import settle_environment

PROXY = "http://proxy.example:3128"


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs requests looked proxies up for."""
    seen: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: Any = None) -> dict[str, str]:
        seen.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    return seen


def _merge(session: requests.Session, url: str, proxies: Any = None) -> dict[str, Any]:
    given = {} if proxies is None else proxies
    return session.merge_environment_settings(url, given, None, None, None)


def test_the_answer_is_what_requests_gives(lookups: list[str]) -> None:
    settled, plain = settle_environment(requests.Session()), requests.Session()
    for url in ("https://a.example/k", "https://direct.example/k", "http://a.example/k"):
        assert _merge(settled, url) == _merge(plain, url)
    assert _merge(settled, "https://a.example/k")["proxies"]["https"] == PROXY
    assert "https" not in _merge(settled, "https://direct.example/k")["proxies"]
    assert _merge(settled, "https://a.example/k")["verify"] == "/etc/ssl/certs/ca-certificates.crt"


def test_the_environment_is_read_once_per_host(
    lookups: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = settle_environment(requests.Session())
    for i in range(50):
        _merge(session, f"https://a.example/key-{i}")
    assert len(lookups) == 1
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:8080")
    assert _merge(session, "https://a.example/again")["proxies"]["https"] == PROXY
    assert _merge(session, "https://b.example/k")["proxies"]["https"] == "http://other.example:8080"
    assert len(lookups) == 2


def test_given_proxies_and_changed_settings_are_answered_afresh(lookups: list[str]) -> None:
    session = settle_environment(requests.Session())
    _merge(session, "https://a.example/k")
    given = {"https": "http://given.example:1"}
    assert _merge(session, "https://a.example/k", given)["proxies"]["https"] == given["https"]
    session.proxies = {"https": "http://session.example:2"}
    assert _merge(session, "https://a.example/k")["proxies"]["https"] == PROXY  # env first
    session.trust_env = False
    assert _merge(session, "https://a.example/k")["proxies"]["https"] == "http://session.example:2"
    assert len(lookups) == 3


def test_each_request_gets_its_own_proxies_mapping(lookups: list[str]) -> None:
    session = settle_environment(requests.Session())
    _merge(session, "https://a.example/k")["proxies"]["https"] = "http://changed.example:9"
    assert _merge(session, "https://a.example/k")["proxies"]["https"] == PROXY


def test_the_azure_transport_session_is_settled(lookups: list[str]) -> None:
    from portacloud_azure.clients import _transport

    session = _transport().session
    for i in range(20):
        _merge(session, f"http://127.0.0.1:1/devstoreaccount1/c/key-{i}")
    assert len(lookups) == 1


def test_the_gcs_client_session_is_settled(lookups: list[str]) -> None:
    from portacloud_gcp.client import make_client

    client = make_client(
        project="p", endpoint="http://127.0.0.1:1", credentials=None, emulator=True
    )
    for i in range(20):
        _merge(client._http, f"http://127.0.0.1:1/storage/v1/b/bucket/o/key-{i}")
    assert len(lookups) == 1

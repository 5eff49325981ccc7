"""Who may copy from whom server-side (Azure and GCS), decided without a request."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("azure.storage.blob")
pytest.importorskip("google.cloud.storage")

from google.auth import compute_engine
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import credentials as user_credentials

from portacloud_azure.clients import same_principal as azure_same_principal
from portacloud_azure.storage import provider as azure_provider
from portacloud_gcp.client import same_principal as gcs_same_principal

_ENDPOINT = "http://127.0.0.1:9/devstoreaccount1"  # nothing listens: opening sends nothing


def _conn(key: str = "a2V5" * 16, endpoint: str = _ENDPOINT) -> str:
    return f"AccountName=devstoreaccount1;AccountKey={key};BlobEndpoint={endpoint};"


def _azure(monkeypatch: pytest.MonkeyPatch, conn: str | None, **options: Any) -> Any:
    if conn is None:
        monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    else:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    driver, _ = azure_provider.open_bucket(urlsplit("az://container"), options | {"engine": "sdk"})
    return driver


def test_azure_shared_keys_of_one_account_reach_each_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = _azure(monkeypatch, _conn()), _azure(monkeypatch, _conn())
    assert a.can_copy_from(b)
    assert b.can_copy_from(a)
    assert not a.can_copy_from(_azure(monkeypatch, _conn(key="b3RoZXI=" * 8)))
    assert not a.can_copy_from(_azure(monkeypatch, _conn(endpoint=_ENDPOINT.replace("9", "8"))))
    assert not a.can_copy_from(object())


def test_azure_sas_and_entra_id_credentials_are_not_provably_one_principal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keyed = _azure(monkeypatch, _conn())
    sas = _azure(monkeypatch, f"BlobEndpoint={_ENDPOINT};SharedAccessSignature=sv=1&sig=x")
    assert not keyed.can_copy_from(sas)
    assert not sas.can_copy_from(keyed)
    assert not sas.can_copy_from(
        _azure(monkeypatch, f"BlobEndpoint={_ENDPOINT};SharedAccessSignature=sv=1&sig=x")
    )
    entra = [_azure(monkeypatch, None, account="devstoreaccount1") for _ in range(2)]
    assert not entra[0].can_copy_from(entra[1])
    # One credential object is one principal.
    assert azure_same_principal(entra[0]._service, entra[0]._service)


def _gcs(credentials: Any, *, project: str = "p", endpoint: str = "http://gcs:1") -> Any:
    return SimpleNamespace(
        _connection=SimpleNamespace(API_BASE_URL=endpoint),
        project=project,
        _credentials=credentials,
    )


def test_gcs_one_principal_is_one_service_account_user_or_anonymous() -> None:
    robot = compute_engine.Credentials(service_account_email="robot@p.iam.example")
    same_robot = compute_engine.Credentials(service_account_email="robot@p.iam.example")
    user = user_credentials.Credentials(token=None, refresh_token="user-token")
    assert gcs_same_principal(_gcs(robot), _gcs(same_robot))
    assert gcs_same_principal(_gcs(user), _gcs(user))
    assert gcs_same_principal(_gcs(AnonymousCredentials()), _gcs(AnonymousCredentials()))
    other_robot = compute_engine.Credentials(service_account_email="other@p.iam.example")
    other_user = user_credentials.Credentials(token=None, refresh_token="other-token")
    no_token = user_credentials.Credentials(token="t")
    assert not gcs_same_principal(_gcs(robot), _gcs(other_robot))
    assert not gcs_same_principal(_gcs(user), _gcs(other_user))
    assert not gcs_same_principal(_gcs(no_token), _gcs(user_credentials.Credentials(token="t")))
    assert not gcs_same_principal(_gcs(robot), _gcs(user))
    assert not gcs_same_principal(_gcs(AnonymousCredentials()), _gcs(robot))
    assert not gcs_same_principal(_gcs(robot), _gcs(same_robot, project="q"))
    assert not gcs_same_principal(_gcs(robot), _gcs(same_robot, endpoint="http://gcs:2"))

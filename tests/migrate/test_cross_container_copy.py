"""Copies and migrations between two containers of one Azure account (Azurite) and two
buckets of one GCS endpoint (fake-gcs-server) stay inside the service.

As in test_cross_bucket_copy.py (S3): the source driver's reads are made to fail, so a
migration that succeeds has moved no byte through this process; another endpoint spelling,
another credential or another project must fall back to streaming.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cross_copy_helpers import cross_copy_objects, make_unreadable, receipt_rows
from migrate_helpers import check_objects, load_objects
from server_buckets import AZURITE, azure_container, gcs_bucket

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.errors import FailedPreconditionError, NotFoundError, UnsupportedError
from portacloud.migrate import migrate
from portacloud.migrate.models import MigrationResult
from portacloud.storage.cross_copy import can_copy_between, copy_between

pytestmark = pytest.mark.integration

_PREFIX = "xc2"


@contextmanager
def _made(
    make: Callable[..., AbstractContextManager[str]], monkeypatch: pytest.MonkeyPatch, count: int
) -> Iterator[list[str]]:
    """``count`` new buckets (or containers) of one server, removed afterwards."""
    with ExitStack() as stack:
        yield [stack.enter_context(make(monkeypatch, prefix=_PREFIX)) for _ in range(count)]


def _other_host(url: str) -> str:
    """The same local server under another spelling of its address."""
    other = url.replace("127.0.0.1", "localhost")
    assert other != url
    return other


def _azurite_endpoint() -> str:
    conn = os.environ[AZURITE]
    fields = dict(part.split("=", 1) for part in conn.split(";") if "=" in part)
    return fields["BlobEndpoint"].rstrip("/")


def _same_but_etags(copied: MigrationResult, streamed: MigrationResult) -> None:
    """The two receipts name the same objects, sizes, CRC32Cs and source versions.

    Azure and GCS give each write its own etag (generation), so the destination versions of
    two runs differ; each was verified against its destination by the migration.
    """
    rows, again = receipt_rows(copied.receipt), receipt_rows(streamed.receipt)
    assert len(rows) == 51
    assert all(crc for _, _, crc, _, _ in rows)
    assert [row[:4] for row in rows] == [row[:4] for row in again]


def _migrate_twice(
    a: str,
    b: str,
    other: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    into: portacloud.Bucket | None = None,
) -> None:
    """Migrate ``a`` to ``b`` (opened as ``into`` where given) with ``a``'s reads failing,
    then ``a`` to ``other``, which streams."""
    objects = cross_copy_objects()
    load_objects(a, objects)
    with portacloud.open_bucket(a) as source:
        make_unreadable(source, monkeypatch)
        copied = migrate(source, into or b, journal=tmp_path / "b.sqlite", receipt=tmp_path / "b")
    assert copied.ok, copied.failures
    assert copied.plan.server_side_copy
    assert (copied.copied, copied.verified, copied.bytes_copied) == (51, 51, 0)
    check_objects(b, objects)
    streamed = migrate(a, other, journal=tmp_path / "c.sqlite", receipt=tmp_path / "c")
    assert streamed.ok, streamed.failures
    assert not streamed.plan.server_side_copy
    total = sum(len(data) for data, _ in objects.values())
    assert (streamed.copied, streamed.bytes_copied) == (51, total)
    check_objects(other, objects)
    _same_but_etags(copied, streamed)


def _copy_between_checks(src: portacloud.Bucket, dst: portacloud.Bucket) -> None:
    """Bytes, content type, metadata and CRC32C travel; a missing source is NotFound."""
    src.put("k", b"one", content_type="text/x-one", metadata={"m": "1"})
    assert can_copy_between(src, dst)
    written = copy_between(src, dst, "k", "k2")
    assert (written.key, written.size, written.crc32c) == ("k2", 3, crc32c_hex(b"one"))
    head = dst.head("k2")
    assert (head.content_type, dict(head.metadata), head.crc32c) == (
        "text/x-one",
        {"m": "1"},
        crc32c_hex(b"one"),
    )
    assert dst.get("k2") == b"one"
    with pytest.raises(NotFoundError) as missing:
        copy_between(src, dst, "missing", "x")
    # The migration tells a source deleted since its plan by this name (state GONE).
    assert missing.value.resource == "missing"
    assert not dst.exists("x")


# ------------------------------------------------------------------------------ Azure


def test_two_containers_of_one_account_copy_in_the_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with (
        _made(azure_container, monkeypatch, 3) as (a, b, c),
    ):
        # The same Azurite under another spelling of its endpoint is not provably the same
        # account: the migration streams.
        other = f"{c}?endpoint_url={_other_host(_azurite_endpoint())}"
        _migrate_twice(a, b, other, monkeypatch, tmp_path)


@pytest.mark.parametrize("engines", [("", ""), ("?engine=sdk", ""), ("", "?engine=sdk")])
def test_a_copy_across_containers_keeps_everything_and_is_create_only(
    engines: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        _made(azure_container, monkeypatch, 2) as (a, b),
        portacloud.open_bucket(a + engines[0]) as src,
        portacloud.open_bucket(b + engines[1]) as dst,
    ):
        _copy_between_checks(src, dst)
        dst.put("taken", b"two")
        written = copy_between(src, dst, "k", "k3", if_none_match="*")
        assert (written.size, written.crc32c) == (3, crc32c_hex(b"one"))
        with pytest.raises(FailedPreconditionError):
            copy_between(src, dst, "k", "taken", if_none_match="*")
        assert dst.get("taken") == b"two"
        with pytest.raises(NotFoundError):
            copy_between(src, dst, "missing", "y", if_none_match="*")


@contextmanager
def _sas_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``AZURE_STORAGE_CONNECTION_STRING`` as a connection string with only a SAS (one that
    could read every container): a credential whose reach cannot be told without a request."""
    from azure.storage.blob import (
        AccountSasPermissions,
        BlobServiceClient,
        ResourceTypes,
        generate_account_sas,
    )

    conn = os.environ[AZURITE]
    service = BlobServiceClient.from_connection_string(conn)
    sas = generate_account_sas(
        service.account_name,
        service.credential.account_key,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(read=True, write=True, list=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"BlobEndpoint={_azurite_endpoint()};SharedAccessSignature={sas}",
    )
    try:
        yield
    finally:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)


def test_another_endpoint_or_credential_is_out_of_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        _made(azure_container, monkeypatch, 2) as (a, b),
    ):
        elsewhere = f"{b}?endpoint_url={_other_host(_azurite_endpoint())}"
        with portacloud.open_bucket(a) as src, portacloud.open_bucket(elsewhere) as dst:
            src.put("k", b"bytes")
            assert not can_copy_between(src, dst)
            with pytest.raises(UnsupportedError, match="server-side"):
                copy_between(src, dst, "k", "k")
        with (
            _sas_only(monkeypatch),
            portacloud.open_bucket(b) as sas_dst,
            portacloud.open_bucket(a) as src,
        ):
            sas_dst.put("written-with-the-sas", b"x")  # the SAS works, but its reach
            assert not can_copy_between(src, sas_dst)  # is not provable locally
            assert not can_copy_between(sas_dst, src)
            with pytest.raises(UnsupportedError, match="server-side"):
                copy_between(src, sas_dst, "k", "k")
            assert not sas_dst.exists("k")


# -------------------------------------------------------------------------------- GCS


def test_a_copy_across_gcs_buckets_keeps_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        _made(gcs_bucket, monkeypatch, 2) as (a, b),
        portacloud.open_bucket(a) as src,
        portacloud.open_bucket(b) as dst,
    ):
        _copy_between_checks(src, dst)
        # fake-gcs-server ignores ifGenerationMatch on rewrites (its profile says so): a
        # create-only copy is refused before any request.
        assert not dst.capabilities.copy_with_if_none_match
        with pytest.raises(UnsupportedError):
            copy_between(src, dst, "k", "k4", if_none_match="*")
        assert not dst.exists("k4")


def test_gcs_migration_streams_without_create_only_copies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = dict(list(cross_copy_objects().items())[:10])
    with (
        _made(gcs_bucket, monkeypatch, 2) as (a, b),
    ):
        load_objects(a, objects)
        with portacloud.open_bucket(a) as src, portacloud.open_bucket(b) as dst:
            assert can_copy_between(src, dst)
        result = migrate(a, b, journal=tmp_path / "j.sqlite")
        assert result.ok, result.failures
        assert not result.plan.server_side_copy
        assert result.bytes_copied == sum(len(data) for data, _ in objects.values())
        check_objects(b, objects)


def test_gcs_migration_copies_in_the_service_where_create_only_copies_hold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The migration across two buckets of one GCS rewrites in the service.

    fake-gcs-server ignores ``ifGenerationMatch`` on rewrites, so its profile denies create-only
    copies and the migration streams (above). Here the destination is granted the capability
    GCS itself has, into an empty bucket: this proves that the bytes stay in the service and
    what the receipt says, not the create-only condition, which only GCS can.
    """
    with (
        _made(gcs_bucket, monkeypatch, 3) as (a, b, c),
        portacloud.open_bucket(b) as dst,
    ):
        granted = dst.capabilities.model_copy(update={"copy_with_if_none_match": True})
        monkeypatch.setattr(dst._driver, "capabilities", granted)
        _migrate_twice(a, b, _other_host(c), monkeypatch, tmp_path, into=dst)


def test_another_gcs_endpoint_or_project_is_out_of_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        _made(gcs_bucket, monkeypatch, 2) as (a, b),
        portacloud.open_bucket(a) as src,
    ):
        src.put("k", b"bytes")
        for other in (_other_host(b), f"{b}&project=someone-else"):
            with portacloud.open_bucket(other) as dst:
                assert not can_copy_between(src, dst)
                with pytest.raises(UnsupportedError, match="server-side"):
                    copy_between(src, dst, "k", "k")
                assert not dst.exists("k")


def test_gcs_credentials_of_another_principal_are_out_of_reach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from google.oauth2.credentials import Credentials

    with (
        _made(gcs_bucket, monkeypatch, 2) as (a, b),
    ):
        someone = Credentials(token="t", refresh_token="someone")
        same = Credentials(token="u", refresh_token="someone")
        other = Credentials(token="t", refresh_token="else")
        with (
            portacloud.open_bucket(a) as anonymous,
            portacloud.open_bucket(a, credentials=someone) as src,
            portacloud.open_bucket(b, credentials=same) as same_user,
            portacloud.open_bucket(b, credentials=other) as other_user,
        ):
            assert can_copy_between(src, same_user)
            assert not can_copy_between(src, other_user)
            assert not can_copy_between(anonymous, same_user)
            assert not can_copy_between(src, anonymous)

"""Credentials never show up in logs, errors, reprs or CLI output.

Canary secrets are planted: AWS access key ids, secret keys and session tokens; an Azure
account key and the connection strings that carry it, SAS tokens; a Google service-account
file with a freshly generated RSA key and the access token it is exchanged for; and the
signatures of signed URLs. Calls that fail (the server refuses the canary) and calls that
succeed (servers that accept it: a private moto server, Azurite with its development key,
fake-gcs-server) run with every logger at DEBUG; the test then searches everything it
captured (log records and their tracebacks, ``str``/``repr`` of every error and its chained
causes, reprs of buckets, drivers, options, profiles and connections, and the CLI's output at
``-vv``) for every canary. The signed URLs themselves are returned to the caller on purpose and
are not searched; their signatures must appear nowhere else.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import socket
import string
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from backends import AZURE_ENV, backend
from conftest import Figures

import portacloud

_ALNUM = string.ascii_uppercase + string.digits


def _akia() -> str:
    return "AKIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))


class Capture:
    """Everything a test saw, and the canaries it must not contain."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.canaries: dict[str, str] = {}
        self.texts: list[tuple[str, str]] = []
        self.errors = 0

    def plant(self, name: str, value: str) -> str:
        """Remember ``value`` as a secret; return it."""
        assert len(value) >= 12, "a canary short enough to occur by chance proves nothing"
        self.canaries[name] = value
        return value

    def add(self, where: str, text: str) -> None:
        """Something that will be searched."""
        self.texts.append((where, text))

    def call(self, where: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; keep the text of any portacloud error it raises, with its causes."""
        try:
            return fn()
        except portacloud.PortaCloudError as exc:
            self.errors += 1
            self.add(f"{where}: str", str(exc))
            self.add(f"{where}: repr", repr(exc))
            self.add(f"{where}: traceback", "".join(traceback.format_exception(exc)))
            return None

    def leaks(self) -> list[str]:
        """``where: canary`` for every canary found anywhere."""
        texts = list(self.texts)
        texts.append(("log text", self.caplog.text))
        for record in self.caplog.records:
            texts.append((f"log {record.name}", record.getMessage()))
            if record.exc_text:
                texts.append((f"log {record.name} exc", record.exc_text))
        found = []
        for where, text in texts:
            for name, value in self.canaries.items():
                if value in text:
                    found.append(f"{where}: {name}")
        return found


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture) -> Capture:
    """Every logger at DEBUG, captured at the root."""
    caplog.set_level(logging.DEBUG)
    return Capture(caplog)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A private moto server: an S3 that accepts any credentials, so canaries succeed."""
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        pytest.fail(f"{binary} is missing: moto[server] is in the servers dependency group")
    port = _free_port()
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _exercise(capture: Capture, where: str, bucket: portacloud.Bucket) -> int:
    """Reads, writes, listings and deletes; returns how many failed (the missing key aside)."""
    capture.add(f"{where}: repr bucket", repr(bucket))
    capture.add(f"{where}: repr driver", repr(bucket._driver))
    capture.add(f"{where}: vars driver", repr(vars(bucket._driver)))
    capture.call(f"{where} missing", lambda: bucket.get("canary/missing"))
    before = capture.errors
    capture.call(f"{where} put", lambda: bucket.put("canary/k", b"payload", metadata={"a": "b"}))
    capture.call(f"{where} get", lambda: bucket.get("canary/k"))
    capture.call(f"{where} head", lambda: bucket.head("canary/k"))
    capture.call(f"{where} list", lambda: list(bucket.list("canary/")))
    capture.call(f"{where} open", lambda: bucket.open("canary/k").read())
    capture.call(f"{where} copy", lambda: bucket.copy("canary/k", "canary/k2"))
    capture.call(f"{where} delete", lambda: bucket.delete("canary/k"))
    return capture.errors - before


def _signature_of(url: str, *names: str) -> str | None:
    query = parse_qs(urlsplit(url).query)
    for name in names:
        if name in query:
            return query[name][0]
    return None


def test_aws_canaries(
    capture: Capture, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    seaweed = backend("s3")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", capture.plant("aws access key id", _akia()))
    monkeypatch.setenv(
        "AWS_SECRET_ACCESS_KEY", capture.plant("aws secret key", secrets.token_urlsafe(30))
    )
    monkeypatch.setenv(
        "AWS_SESSION_TOKEN", capture.plant("aws session token", "IQoJb3" + secrets.token_hex(40))
    )

    # Refused: SeaweedFS knows only its own identity.
    with seaweed.container() as container:
        refused = portacloud.open_bucket(seaweed.url(container, seaweed.upstream))
        assert _exercise(capture, "s3 refused", refused) >= 5, "the refused calls must fail"
        url = capture.call("s3 refused sign", lambda: refused.signed_url("canary/k"))
        if url:
            capture.plant("s3 presign signature (refused)", _signature_of(url, "X-Amz-Signature"))
        refused.close()

    # Accepted: moto checks no signature, so every call succeeds with the canaries.
    import boto3

    # A fresh session: boto3's default one would cache these canary credentials for every
    # later test of the run.
    fresh = boto3.session.Session()
    fresh.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket="canaries")
    accepted = portacloud.open_bucket(f"s3://canaries?endpoint_url={moto_endpoint}&vendor=moto")
    assert _exercise(capture, "s3 accepted", accepted) == 0, "the accepted calls must succeed"
    url = accepted.signed_url("canary/k", method="PUT")
    capture.plant("s3 presign signature", _signature_of(url, "X-Amz-Signature") or "")
    accepted.close()
    _assert_clean(capture, figures, "aws")


def _account_sas(conn: str, *, expiry_hours: int = 1) -> str:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import (
        AccountSasPermissions,
        ResourceTypes,
        generate_account_sas,
    )

    fields = dict(part.split("=", 1) for part in conn.split(";") if "=" in part)
    return generate_account_sas(
        account_name=fields["AccountName"],
        account_key=fields["AccountKey"],
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True, write=True, delete=True, list=True, create=True, add=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=expiry_hours),
    )


def test_azure_canaries(
    capture: Capture, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    be = backend("azure")
    conn = os.environ[AZURE_ENV]
    fields = dict(part.split("=", 1) for part in conn.split(";") if "=" in part)
    dev_key = capture.plant("azurite account key", fields["AccountKey"])
    fake_key = capture.plant(
        "azure account key", base64.b64encode(secrets.token_bytes(64)).decode()
    )
    with be.container() as container:
        # Refused: a connection string with a key the account does not have.
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn.replace(dev_key, fake_key))
        refused = portacloud.open_bucket(f"az://{container}")
        assert _exercise(capture, "az refused", refused) >= 5, "the refused calls must fail"
        url = capture.call("az refused sign", lambda: refused.signed_url("canary/k"))
        if url:
            capture.plant("azure sas sig (refused key)", _signature_of(url, "sig") or "")
        refused.close()

        # Accepted: the real (development) key.
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
        accepted = portacloud.open_bucket(f"az://{container}")
        assert _exercise(capture, "az accepted", accepted) == 0, "the accepted calls must succeed"
        url = accepted.signed_url("canary/k", method="GET")
        capture.plant("azure blob sas sig", _signature_of(url, "sig") or "")
        accepted.close()

        # Accepted: a SAS-only connection string.
        sas = _account_sas(conn)
        capture.plant("azure account sas sig", _signature_of("?" + sas, "sig") or "")
        sas_conn = f"BlobEndpoint={fields['BlobEndpoint']};SharedAccessSignature={sas}"
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", sas_conn)
        with_sas = portacloud.open_bucket(f"az://{container}")
        assert _exercise(capture, "az sas", with_sas) == 0, "the SAS calls must succeed"
        with_sas.close()

        # A connection string that does not parse: its text must not come back in the error.
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", f"AccountKey={fake_key};Nonsense")
        capture.call(
            "az bad connection string", lambda: portacloud.open_bucket(f"az://{container}")
        )
    _assert_clean(capture, figures, "azure")


class _TokenServer:
    """An OAuth token endpoint on loopback that hands out a canary access token."""

    def __init__(self, token: str) -> None:
        answer = json.dumps({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                refuse = self.path.startswith("/refuse")
                body = b'{"error": "invalid_grant"}' if refuse else answer.encode()
                self.send_response(400 if refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _service_account(capture: Capture, token_uri: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = "".join(pem.splitlines()[1:-1])
    capture.plant("service account private key", body[100:160])
    return {
        "type": "service_account",
        "project_id": "portacloud-canary",
        "private_key_id": capture.plant("service account key id", secrets.token_hex(20)),
        "private_key": pem,
        "client_email": "canary@portacloud-canary.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


def test_gcs_canaries(capture: Capture, tmp_path: Path, figures: Figures) -> None:
    from google.oauth2 import service_account

    be = backend("gcs")
    token = capture.plant("gcs access token", "ya29." + secrets.token_urlsafe(60))
    server = _TokenServer(token)
    try:
        info = _service_account(capture, f"{server.url}/token")
        key_file = tmp_path / "sa.json"
        key_file.write_text(json.dumps(info))
        scopes = ["https://www.googleapis.com/auth/devstorage.read_write"]
        credentials = service_account.Credentials.from_service_account_file(
            str(key_file), scopes=scopes
        )
        with be.container() as container:
            accepted = portacloud.open_bucket(
                be.url(container, be.upstream), credentials=credentials
            )
            failed = _exercise(capture, "gcs accepted", accepted)
            assert failed == 0, "the accepted calls must succeed"
            # Signing needs no server: the driver refuses on the emulator, the SDK signs here.
            blob = accepted.as_native(object).bucket(container).blob("canary/k")  # type: ignore[attr-defined]
            signed = blob.generate_signed_url(version="v4", expiration=600, credentials=credentials)
            capture.plant(
                "gcs signed url signature", _signature_of(signed, "X-Goog-Signature") or ""
            )
            accepted.close()

            refused_info = {**info, "token_uri": f"{server.url}/refuse"}
            refused_credentials = service_account.Credentials.from_service_account_info(
                refused_info, scopes=scopes
            )
            refused = portacloud.open_bucket(
                be.url(container, be.upstream), credentials=refused_credentials
            )
            assert _exercise(capture, "gcs refused", refused) >= 5, "refused calls must fail"
            refused.close()
    finally:
        server.close()
    _assert_clean(capture, figures, "gcs")


def test_profiles_and_options_hold_no_secrets(
    capture: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    secret = capture.plant("secret in a profile URL", secrets.token_urlsafe(24))
    akia = capture.plant("access key in a profile URL", _akia())
    config = tmp_path / "portacloud.toml"
    config.write_text(
        "[profiles.default]\n"
        f'storage = "{(tmp_path / "data").as_uri()}"\n'
        "[profiles.leaky]\n"
        f'storage = "s3://b/p?aws_secret_access_key={secret}"\n'
        "[profiles.userinfo]\n"
        f'storage = "s3://{akia}:{secret}@b/p"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    connection = portacloud.connect()
    capture.add("repr connection", repr(connection))
    capture.add("repr profile", repr(connection.profile))
    capture.add("repr bucket", repr(connection.storage))
    for name in ("leaky", "userinfo"):
        capture.call(f"profile {name}", lambda name=name: portacloud.connect(name).storage)
        capture.call(
            f"open {name}",
            lambda name=name: portacloud.open_bucket(
                f"s3://b/p?aws_secret_access_key={secret}"
                if name == "leaky"
                else f"s3://{akia}:{secret}@b/p"
            ),
        )
    assert capture.errors >= 4, "URLs with credentials must be refused"
    _assert_clean(capture, figures, "profiles")


def _cli(argv: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "portacloud.cli", "-vv", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    return output


def test_cli_output_at_debug(capture: Capture, moto_endpoint: str, figures: Figures) -> None:
    seaweed, azure = backend("s3"), backend("azure")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_"))}
    aws = {
        **base,
        "AWS_ACCESS_KEY_ID": capture.plant("cli aws key id", _akia()),
        "AWS_SECRET_ACCESS_KEY": capture.plant("cli aws secret", secrets.token_urlsafe(30)),
        "AWS_SESSION_TOKEN": capture.plant("cli aws token", "IQoJb3" + secrets.token_hex(40)),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    conn = os.environ[AZURE_ENV]
    dev_key = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)["AccountKey"]
    capture.plant("cli azurite key", dev_key)
    fake_key = capture.plant("cli azure key", base64.b64encode(secrets.token_bytes(64)).decode())
    import boto3

    boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="x" * 16,
        aws_secret_access_key="y" * 16,
        region_name="us-east-1",
    ).create_bucket(Bucket="cli-canaries")
    with seaweed.container() as s3_container, azure.container() as az_container:
        s3_url = seaweed.url(s3_container, seaweed.upstream)
        local = Path(os.environ.get("TMPDIR", "/tmp")) / f"canary-{secrets.token_hex(4)}"
        local.write_bytes(b"payload")
        try:
            runs = [
                (["ls", s3_url], aws),
                (["stat", s3_url.replace("?", "/k?")], aws),
                (["cp", str(local), f"s3://cli-canaries/k?endpoint_url={moto_endpoint}"], aws),
                (["cat", f"s3://cli-canaries/k?endpoint_url={moto_endpoint}"], aws),
                (["ls", f"az://{az_container}"], {**base, "AZURE_STORAGE_CONNECTION_STRING": conn}),
                (
                    ["cp", str(local), f"az://{az_container}/k"],
                    {**base, "AZURE_STORAGE_CONNECTION_STRING": conn},
                ),
                (
                    ["ls", f"az://{az_container}"],
                    {**base, "AZURE_STORAGE_CONNECTION_STRING": conn.replace(dev_key, fake_key)},
                ),
            ]
            for argv, env in runs:
                capture.add(f"cli {' '.join(argv)}", _cli(argv, env))
        finally:
            local.unlink()
    _assert_clean(capture, figures, "cli")


def _assert_clean(capture: Capture, figures: Figures, section: str) -> None:
    leaks = capture.leaks()
    figures.add(
        "secrets",
        section,
        {
            "canaries": len(capture.canaries),
            "texts_searched": len(capture.texts),
            "log_records_searched": len(capture.caplog.records),
            "errors_searched": capture.errors,
            "canaries_found": len(leaks),
        },
    )
    assert not leaks, "\n".join(leaks)

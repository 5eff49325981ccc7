"""The three cloud backends of the reliability tests, reached through a :class:`FaultProxy`.

Each :class:`Backend` knows its real server (started by ``scripts/services.sh``), how to make
and drop a container behind the driver's back, how to open a portable bucket whose every
request goes through a proxy, and how to read what is really stored, with the vendor SDK and
straight from the server, so that verification never trusts the code under test.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from proxy import Dialect

import portacloud

S3_ENV = "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT"
GCS_ENV = "PORTACLOUD_TEST_GCS_ENDPOINT"
AZURE_ENV = "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING"
AZURE_DRIVER_ENV = "AZURE_STORAGE_CONNECTION_STRING"
#: The throw-away identity of scripts/servers/seaweedfs.sh.
S3_KEY = "testing"

#: Part, chunk and block sizes of streamed writes in these tests: small, so that a few MiB
#: already take the multipart / resumable / staged-block paths (S3's minimum part is 5 MiB).
STREAM_PART = {"s3": 5 * 1024 * 1024, "gcs": 1024 * 1024, "azure": 1024 * 1024}


def _need(variable: str, server: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    if os.environ.get("CI") == "true":
        pytest.fail(f"{server} not running: scripts/services.sh start ({variable} is unset)")
    pytest.skip(f"{server} not running: scripts/services.sh start")


def _conn_fields(conn: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in conn.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name] = value
    return fields


# ----------------------------------------------------------------------------- filters


def _s3_object_data(method: str, path: str, query: str) -> bool:
    # GET /bucket/key without a sub-resource query: an object body.
    return (
        method == "GET"
        and path.count("/") >= 2
        and "list-type" not in query
        and ("uploads" not in query)
    )


def _s3_upload(method: str, path: str, query: str) -> bool:
    return method == "PUT" and path.count("/") >= 2


def _gcs_object_data(method: str, path: str, query: str) -> bool:
    return method == "GET" and (path.startswith("/download/") or "alt=media" in query)


def _gcs_upload(method: str, path: str, query: str) -> bool:
    # Resumable chunks, and single-request (multipart/related) uploads.
    return (method == "PUT" and "upload_id=" in query) or (
        method == "POST" and "uploadType=multipart" in query
    )


def _azure_object_data(method: str, path: str, query: str) -> bool:
    return (
        method == "GET"
        and path.count("/") >= 3
        and "comp=" not in query
        and ("restype=" not in query)
    )


def _azure_upload(method: str, path: str, query: str) -> bool:
    return method == "PUT" and path.count("/") >= 3 and "comp=blocklist" not in query


@dataclass(frozen=True)
class Backend:
    """One backend family and its real server.

    Attributes:
        name: ``s3``, ``gcs`` or ``azure``.
        server: The server behind it, for reports.
        dialect: Whose throttle bodies the proxy imitates.
        upstream: The server's base URL.
        body_filter: Which responses carry object bytes (the only ones ``corrupt`` touches).
        upload_filter: Which requests carry object bytes, for upload corruption.
        engine: The driver's engine option (``sdk`` for ``s3-sdk`` and ``azure-sdk``), or
            ``None`` for the default engine (obstore).
    """

    name: str
    server: str
    dialect: Dialect
    upstream: str
    body_filter: Callable[[str, str, str], bool]
    upload_filter: Callable[[str, str, str], bool]
    _azure_conn: str | None = None
    engine: str | None = None

    # ------------------------------------------------------------------ containers

    @contextmanager
    def container(self) -> Iterator[str]:
        """A fresh bucket/container, emptied (uploads included) and dropped afterwards."""
        name = f"pcf-{uuid.uuid4().hex[:20]}"
        if self.name == "s3":
            client = self.raw_s3()
            client.create_bucket(Bucket=name)
            try:
                yield name
            finally:
                for upload in s3_uploads(client, name):
                    client.abort_multipart_upload(
                        Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                for key in self.raw_keys(name):
                    client.delete_object(Bucket=name, Key=key)
                client.delete_bucket(Bucket=name)
                client.close()
        elif self.name == "gcs":
            gcs = self.raw_gcs()
            gcs.create_bucket(name)
            try:
                yield name
            finally:
                for blob in gcs.list_blobs(name):
                    blob.delete()
                gcs.bucket(name).delete()
                gcs.close()
        else:
            service = self.raw_azure()
            service.create_container(name)
            try:
                yield name
            finally:
                service.delete_container(name)
                service.close()

    # ------------------------------------------------------------------ portable buckets

    def url(self, container: str, endpoint: str, prefix: str = "", **options: str | int) -> str:
        """The URL of ``container`` (and ``prefix``) with every request sent to ``endpoint``."""
        query: dict[str, str | int] = {}
        if self.name == "azure":
            query["endpoint_url"] = f"{endpoint}/{self.azure_account}"
        else:
            query["endpoint_url"] = endpoint
        if self.engine is not None:
            query["engine"] = self.engine
        query.update(options)
        scheme = {"s3": "s3", "gcs": "gs", "azure": "az"}[self.name]
        text = "&".join(f"{k}={quote(str(v), safe=':/')}" for k, v in query.items())
        path = f"/{quote(prefix)}" if prefix else ""
        return f"{scheme}://{container}{path}?{text}"

    def stream_option(self) -> dict[str, int]:
        """The option that makes streamed writes use small parts/chunks/blocks."""
        size = STREAM_PART[self.name]
        return {
            "s3": {"part_size": size},
            "gcs": {"chunk_size": size},
            "azure": {"block_size": size},
        }[self.name]

    def open(
        self, container: str, endpoint: str, *, small_parts: bool = True, **options: Any
    ) -> portacloud.Bucket:
        """A portable bucket on ``container`` whose requests all go to ``endpoint``.

        ``small_parts`` gives streamed writes small parts (see ``STREAM_PART``).
        """
        query = self.stream_option() if small_parts else {}
        return portacloud.open_bucket(self.url(container, endpoint, **query), **options)

    @property
    def azure_account(self) -> str:
        """The Azurite account name."""
        assert self._azure_conn is not None
        return _conn_fields(self._azure_conn)["AccountName"]

    def env(self) -> dict[str, str]:
        """Environment a child process needs to open this backend's buckets."""
        base = {
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if self._azure_conn is not None:
            base[AZURE_DRIVER_ENV] = self._azure_conn
        return base

    # ------------------------------------------------------------------ raw access

    def raw_s3(self) -> Any:
        """A plain boto3 client straight to the server, retries off."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.upstream,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_KEY,
            region_name="us-east-1",
            config=Config(
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
                signature_version="s3v4",
            ),
        )

    def raw_gcs(self) -> Any:
        """A plain google-cloud-storage client straight to the server."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage  # type: ignore[import-untyped]

        return storage.Client(
            project="portacloud-tests",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.upstream},
        )

    def raw_azure(self) -> Any:
        """A plain BlobServiceClient straight to the server."""
        from azure.storage.blob import BlobServiceClient

        assert self._azure_conn is not None
        return BlobServiceClient.from_connection_string(self._azure_conn)

    def raw_keys(self, container: str) -> list[str]:
        """Every key the server holds in ``container``."""
        if self.name == "s3":
            client = self.raw_s3()
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=container)
            keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
            client.close()
            return keys
        if self.name == "gcs":
            gcs = self.raw_gcs()
            keys = [blob.name for blob in gcs.list_blobs(container)]
            gcs.close()
            return keys
        service = self.raw_azure()
        keys = [b.name for b in service.get_container_client(container).list_blobs()]
        service.close()
        return keys

    def raw_digests(self, container: str) -> dict[str, tuple[int, str]]:
        """``key -> (size, sha256 hex)`` of every stored object, read with the vendor SDK."""
        out: dict[str, tuple[int, str]] = {}
        if self.name == "s3":
            client = self.raw_s3()
            for key in self.raw_keys(container):
                body = client.get_object(Bucket=container, Key=key)["Body"].read()
                out[key] = (len(body), hashlib.sha256(body).hexdigest())
            client.close()
        elif self.name == "gcs":
            gcs = self.raw_gcs()
            for blob in gcs.list_blobs(container):
                body = blob.download_as_bytes(raw_download=True)
                out[blob.name] = (len(body), hashlib.sha256(body).hexdigest())
            gcs.close()
        else:
            service = self.raw_azure()
            container_client = service.get_container_client(container)
            for item in container_client.list_blobs():
                body = container_client.download_blob(item.name).readall()
                out[item.name] = (len(body), hashlib.sha256(body).hexdigest())
            service.close()
        return out

    def raw_put(self, container: str, key: str, data: bytes) -> None:
        """Store an object behind the driver's back (migration sources)."""
        if self.name == "s3":
            client = self.raw_s3()
            client.put_object(Bucket=container, Key=key, Body=data)
            client.close()
        elif self.name == "gcs":
            gcs = self.raw_gcs()
            gcs.bucket(container).blob(key).upload_from_string(data)
            gcs.close()
        else:
            service = self.raw_azure()
            service.get_container_client(container).upload_blob(key, data, overwrite=True)
            service.close()

    def leftovers(self, container: str, key: str) -> int | None:
        """Invisible remains of an unfinished write of ``key``, where the server can list them.

        S3: open multipart uploads. Azure: uncommitted blocks. GCS: ``None``: resumable sessions
        cannot be listed (they expire after a week and never become objects).
        """
        if self.name == "s3":
            client = self.raw_s3()
            uploads = client.list_multipart_uploads(Bucket=container, Prefix=key).get("Uploads", [])
            client.close()
            return len([u for u in uploads if u["Key"] == key])
        if self.name == "azure":
            from azure.core.exceptions import ResourceNotFoundError

            service = self.raw_azure()
            blob = service.get_container_client(container).get_blob_client(key)
            try:
                _, uncommitted = blob.get_block_list("uncommitted")
            except ResourceNotFoundError:
                uncommitted = []
            finally:
                service.close()
            return len(uncommitted)
        return None


def s3_uploads(client: Any, bucket: str) -> list[dict[str, Any]]:
    """Multipart uploads still open in ``bucket``."""
    uploads: list[dict[str, Any]] = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def backend(name: str) -> Backend:
    """The backend ``name``, or skip (fail under CI) when its server is not running.

    ``s3`` and ``azure`` open the default engine (obstore); ``s3-sdk`` (``azure-sdk``) is the
    same server with ``engine=sdk`` in every URL it opens.
    """
    if name in ("s3", "s3-sdk"):
        return Backend(
            "s3",
            "SeaweedFS",
            Dialect.S3,
            _need(S3_ENV, "SeaweedFS").rstrip("/"),
            _s3_object_data,
            _s3_upload,
            engine="sdk" if name == "s3-sdk" else None,
        )
    if name == "gcs":
        return Backend(
            "gcs",
            "fake-gcs-server",
            Dialect.GCS,
            _need(GCS_ENV, "fake-gcs-server").rstrip("/"),
            _gcs_object_data,
            _gcs_upload,
        )
    conn = _need(AZURE_ENV, "Azurite")
    fields = _conn_fields(conn)
    endpoint = fields["BlobEndpoint"].rstrip("/")
    upstream = endpoint[: endpoint.rindex("/")]  # Azurite is path-style: /ACCOUNT/CONTAINER
    return Backend(
        "azure",
        "Azurite",
        Dialect.AZURE,
        upstream,
        _azure_object_data,
        _azure_upload,
        _azure_conn=conn,
        engine="sdk" if name == "azure-sdk" else None,
    )


BACKENDS = ("s3", "gcs", "azure")
#: The same backends, plus S3 and Azure through their SDK engine.
ENGINES = (*BACKENDS, "s3-sdk", "azure-sdk")

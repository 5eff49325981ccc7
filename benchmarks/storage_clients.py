"""The clients bench_storage.py times: each a dict of the same operations over one server.

portacloud (both S3 engines), raw boto3, obstore, s3fs, google-cloud-storage and
azure-storage-blob, plus the memory-bounded sources and sinks the large transfers stream.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SMALL = 64 * 1024
LARGE = 256 * 1024 * 1024
CHUNK = 8 * 1024 * 1024
THREADS = 16
AZ_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZ_ACCOUNT = "devstoreaccount1"


class PatternReader(io.RawIOBase):
    """``size`` bytes of a repeating pattern, read without ever holding more than one chunk."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.pos = 0
        self.pattern = bytes(range(256)) * (CHUNK // 256)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only "where am I" seeks, which some SDKs make before uploading."""
        target = {0: offset, 1: self.pos + offset}.get(whence)
        if target != self.pos:
            raise io.UnsupportedOperation("seek")
        return self.pos

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self.left, len(self.pattern))
        buf[:n] = self.pattern[:n]
        self.left -= n
        self.pos += n
        return n


class Sink(io.RawIOBase):
    """A write-only file that counts bytes and keeps none."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.count

    def write(self, b: Any) -> int:
        n = len(b)
        self.count += n
        return n


def source() -> io.BufferedReader:
    return io.BufferedReader(PatternReader(LARGE), buffer_size=CHUNK)


class StreamReader(PatternReader):
    """The same source without any seeking, for boto3 (which seeks to the end to size it)."""

    def seekable(self) -> bool:
        return False


def chunks() -> Iterator[bytes]:
    """The large object as an iterator of pieces, for clients that want one."""
    f = source()
    while chunk := f.read(CHUNK):
        yield chunk


def pump(reader: Any, writer: Any) -> int:
    total = 0
    while chunk := reader.read(CHUNK):
        writer.write(chunk)
        total += len(chunk)
    return total


def threaded(fn: Callable[[str], Any], keys: list[str]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        for _ in pool.map(fn, keys):
            pass


# --- clients: each is a dict of callables doing one kind of work --------------------------------


def portacloud_client(url: str) -> dict[str, Callable[..., Any]]:
    import portacloud

    b = portacloud.open_bucket(url)

    def up(key: str) -> None:
        with b.open(key, "wb") as f:
            pump(source(), f)

    def down(key: str) -> None:
        sink = Sink()
        with b.open(key) as f:
            pump(f, sink)
        assert sink.count == LARGE, sink.count

    return {
        "put": b.put,
        "get": b.get,
        "up": up,
        "down": down,
        "list": lambda p: sum(1 for _ in b.list(p)),
    }


def boto3_client(endpoint: str, bucket: str) -> dict[str, Callable[..., Any]]:
    import boto3

    c = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def down(key: str) -> None:
        sink = Sink()
        c.download_fileobj(bucket, key, sink)
        assert sink.count == LARGE, sink.count

    def listing(prefix: str) -> int:
        pages = c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(len(p.get("Contents", [])) for p in pages)

    return {
        "put": lambda k, d: c.put_object(Bucket=bucket, Key=k, Body=d),
        "get": lambda k: c.get_object(Bucket=bucket, Key=k)["Body"].read(),
        "up": lambda k: c.upload_fileobj(StreamReader(LARGE), bucket, k),
        "down": down,
        "list": listing,
    }


def s3_store(endpoint: str, bucket: str) -> Any:
    """obstore's S3Store for a bucket of the benchmark's S3 server."""
    from obstore.store import S3Store

    return S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )


def azure_store(conn: str, container: str) -> Any:
    """obstore's AzureStore for a container of the benchmark's Azurite (its connection string)."""
    from obstore.store import AzureStore

    fields = dict(part.split("=", 1) for part in conn.split(";") if "=" in part)
    return AzureStore(
        container,
        account_name=fields["AccountName"],
        account_key=fields["AccountKey"],
        endpoint=fields["BlobEndpoint"].rstrip("/"),
        client_options={"allow_http": True},
    )


def obstore_client(store: Any) -> dict[str, Callable[..., Any]]:
    """Raw obstore on a store made by :func:`s3_store` or :func:`azure_store`."""
    import obstore

    def down(key: str) -> None:
        n = sum(len(chunk) for chunk in obstore.get(store, key).stream(min_chunk_size=CHUNK))
        assert n == LARGE, n

    return {
        "put": lambda k, d: obstore.put(store, k, d),
        "get": lambda k: obstore.get(store, k).bytes(),
        "up": lambda k: obstore.put(store, k, chunks()),
        "down": down,
        "list": lambda p: sum(len(batch) for batch in obstore.list(store, p)),
    }


def s3fs_client(endpoint: str, bucket: str) -> dict[str, Callable[..., Any]]:
    import s3fs

    fs = s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"},
        skip_instance_cache=True,
    )

    def up(key: str) -> None:
        with fs.open(f"{bucket}/{key}", "wb") as f:
            pump(source(), f)

    def down(key: str) -> None:
        sink = Sink()
        with fs.open(f"{bucket}/{key}", "rb") as f:
            pump(f, sink)
        assert sink.count == LARGE, sink.count

    def listing(prefix: str) -> int:
        fs.invalidate_cache()
        return len(fs.find(f"{bucket}/{prefix}"))

    return {
        "put": lambda k, d: fs.pipe_file(f"{bucket}/{k}", d),
        "get": lambda k: fs.cat_file(f"{bucket}/{k}"),
        "up": up,
        "down": down,
        "list": listing,
    }


def gcs_client(endpoint: str, bucket: str) -> dict[str, Callable[..., Any]]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    c = storage.Client(
        project="bench",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
    b = c.bucket(bucket)

    def down(key: str) -> None:
        sink = Sink()
        b.blob(key).download_to_file(sink)
        assert sink.count == LARGE, sink.count

    return {
        "put": lambda k, d: b.blob(k).upload_from_string(d),
        "get": lambda k: b.blob(k).download_as_bytes(),
        "up": lambda k: b.blob(k).upload_from_file(source(), size=LARGE),
        "down": down,
        "list": lambda p: sum(1 for _ in c.list_blobs(bucket, prefix=p)),
    }


def azure_client(conn: str, container: str) -> dict[str, Callable[..., Any]]:
    from azure.storage.blob import BlobServiceClient

    cc = BlobServiceClient.from_connection_string(conn).get_container_client(container)

    def down(key: str) -> None:
        sink = Sink()
        cc.download_blob(key).readinto(sink)
        assert sink.count == LARGE, sink.count

    return {
        "put": lambda k, d: cc.upload_blob(k, d, overwrite=True),
        "get": lambda k: cc.download_blob(k).readall(),
        "up": lambda k: cc.upload_blob(k, source(), length=LARGE, overwrite=True),
        "down": down,
        "list": lambda p: sum(1 for _ in cc.list_blobs(name_starts_with=p)),
    }


# --- the work ---------------------------------------------------------------------------------

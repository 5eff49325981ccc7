"""A real HTTP server whose listing cursor cycles: the client stops with a clear error.

The server speaks just enough S3 for ``s3://``: HEAD bucket, and ListObjectsV2 pages whose
continuation token cycles ``a -> b -> a``, as the GCS implementation in issue 11 did with its
``startOffset`` cursor. Without the guard the client would send requests until killed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

import portacloud
from portacloud.retry import RetryPolicy

_NEXT = {None: "a", "a": "b", "b": "a"}


class _Looping(BaseHTTPRequestHandler):
    lists = 0

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Server", "LoopingS3")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        type(self).lists += 1
        query = parse_qs(urlsplit(self.path).query)
        token = query.get("continuation-token", [None])[0]
        key = f"k{type(self).lists:04d}"  # ascending: only the cursor misbehaves
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
            f"<IsTruncated>true</IsTruncated><NextContinuationToken>{_NEXT[token]}"
            "</NextContinuationToken>"
            f"<Contents><Key>{key}</Key><LastModified>2026-12-05T00:00:00.000Z</LastModified>"
            '<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size>'
            "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def looping_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    _Looping.lists = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Looping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cycling_cursor_ends_the_listing_with_an_error_naming_it(looping_server: str) -> None:
    bucket = portacloud.open_bucket(
        f"s3://b?endpoint_url={looping_server}", retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(portacloud.UnavailableError) as caught:
        list(bucket.list())
    assert "repeated the page cursor 'a'" in str(caught.value)
    assert looping_server in str(caught.value)
    assert caught.value.retryable is False
    assert _Looping.lists == 3  # start, a, b -> a again: stopped there

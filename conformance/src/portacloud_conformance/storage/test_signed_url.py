"""Signed URLs: plain HTTP clients can GET and PUT until they expire."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

import portacloud
from portacloud_conformance.support import require, require_missing


def _fetch(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 - http(s) URLs from the backend under test
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_signed_get(bucket: portacloud.Bucket) -> None:
    require(bucket, "presign_read")
    bucket.put("signed", b"secret bytes")
    url = bucket.signed_url("signed", expires=300)
    status, body = _fetch(url)
    assert status == 200
    assert body == b"secret bytes"


def test_signed_put(bucket: portacloud.Bucket) -> None:
    require(bucket, "presign_write")
    url = bucket.signed_url(
        "uploaded", method="PUT", expires=300, content_type="application/octet-stream"
    )
    headers = {"Content-Type": "application/octet-stream", "x-ms-blob-type": "BlockBlob"}
    status, _ = _fetch(url, method="PUT", data=b"via signed url", headers=headers)
    assert status in (200, 201)
    assert bucket.get("uploaded") == b"via signed url"


def test_expired_signed_url_is_refused(bucket: portacloud.Bucket) -> None:
    require(bucket, "presign_read")
    require(bucket, "signed_url_checks_expiry")
    bucket.put("short", b"x")
    url = bucket.signed_url("short", expires=1)
    time.sleep(2.5)
    status, _ = _fetch(url)
    assert status in (400, 401, 403)


def test_tampered_signed_url_is_refused(bucket: portacloud.Bucket) -> None:
    require(bucket, "presign_read")
    require(bucket, "signed_url_checks_expiry")
    bucket.put("a", b"x")
    bucket.put("b", b"y")
    parts = urlsplit(bucket.signed_url("a", expires=300))
    query = dict(parse_qsl(parts.query))
    sig_name = next(
        k for k in query if k.lower() in ("x-amz-signature", "sig", "x-goog-signature", "signature")
    )
    query[sig_name] = ("0" if query[sig_name][0] != "0" else "1") + query[sig_name][1:]
    status, _ = _fetch(urlunsplit(parts._replace(query=urlencode(query))))
    assert status in (400, 401, 403)


def test_bad_signed_url_arguments(bucket: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.signed_url("k", method="DELETE")  # type: ignore[arg-type]
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.signed_url("k", expires=0)


def test_unsupported_signed_url_names_the_capability(bucket: portacloud.Bucket) -> None:
    require_missing(bucket, "presign_read")
    with pytest.raises(portacloud.UnsupportedError, match="presign_read"):
        bucket.signed_url("k")

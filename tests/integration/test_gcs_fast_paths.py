"""The gs:// provider's request economy against a real fake-gcs-server (issue 12, item 2).

A read is one media GET described by its own headers; a reopen is pinned to the generation the
read opened; a listing asks only for the fields it uses; bytes given whole go in the SDK's
100 MiB resumable chunks. Requests are seen through the spy of gcs_support.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from gcs_support import RequestSpy, fresh_bucket, gcs_endpoint, raw_client

import portacloud
from portacloud.errors import FailedPreconditionError

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@dataclass(frozen=True)
class Gcs:
    """A fresh bucket through portacloud, the same bucket through the SDK, and the spy."""

    bucket: portacloud.Bucket
    raw: Any
    spy: RequestSpy


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gcs]:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    url = gcs_endpoint()
    spy = RequestSpy()
    spy.install(monkeypatch)
    client = raw_client(url)
    with fresh_bucket(url) as name, portacloud.open_bucket(f"gs://{name}", endpoint_url=url) as b:
        yield Gcs(b, client.bucket(name), spy)
    client.close()


def _payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def test_a_whole_read_is_one_media_get(gcs: Gcs) -> None:
    data = _payload(300_000)
    gcs.bucket.put("k", data, content_type="text/plain", metadata={"team": "Data"})
    gcs.spy.requests.clear()
    assert gcs.bucket.get("k") == data
    assert [(r.method, "/download/" in r.path) for r in gcs.spy.requests] == [("GET", True)]
    assert "generation=" not in gcs.spy.requests[0].query


def test_the_read_describes_the_object_as_head_does(gcs: Gcs) -> None:
    gcs.bucket.put("k", b"hello", content_type="text/plain", metadata={"team": "Data"})
    head = gcs.bucket.head("k")
    with gcs.bucket.open("k") as f:
        assert f.read() == b"hello"
        info = f.raw.info
    kept = ("key", "size", "etag", "content_type", "metadata", "checksums")
    assert {n: getattr(info, n) for n in kept} == {n: getattr(head, n) for n in kept}


@pytest.mark.parametrize(
    ("rng", "expected"),
    [((2, 5), b"234"), ((-4, None), b"6789"), ((5, None), b"56789"), ((0, 100), b"0123456789")],
)
def test_a_ranged_read_is_one_request(
    gcs: Gcs, rng: tuple[int, int | None], expected: bytes
) -> None:
    gcs.bucket.put("k", b"0123456789")
    gcs.spy.requests.clear()
    assert gcs.bucket.get("k", range=rng) == expected
    assert len(gcs.spy.requests) == 1


def test_reads_at_or_past_the_end_give_no_bytes(gcs: Gcs) -> None:
    gcs.bucket.put("k", b"0123456789")
    gcs.bucket.put("empty", b"")
    assert gcs.bucket.get("k", range=(10, None)) == b""
    assert gcs.bucket.get("k", range=(50, 60)) == b""
    assert gcs.bucket.get("empty") == b""
    assert gcs.bucket.get("empty", range=(-3, None)) == b""


def test_a_reopen_reads_on_in_the_generation_opened(gcs: Gcs) -> None:
    data = _payload(3 * MiB)
    gcs.bucket.put("k", data)
    with gcs.bucket.open("k") as f:
        assert f.read(10) == data[:10]
        generation = f.raw.info.etag
        gcs.spy.requests.clear()
        f.seek(2 * MiB)  # drops the open stream: the next read reopens
        assert f.read(10) == data[2 * MiB : 2 * MiB + 10]
    assert [r.query for r in gcs.spy.requests if r.method == "GET"] == [
        f"alt=media&generation={generation}"
    ]


def test_a_reopen_after_the_object_was_replaced_fails_rather_than_mix_versions(gcs: Gcs) -> None:
    gcs.bucket.put("k", _payload(3 * MiB))
    with gcs.bucket.open("k") as f:
        f.read(10)
        gcs.raw.blob("k").upload_from_string(b"a new generation")
        f.seek(2 * MiB)
        with pytest.raises(FailedPreconditionError, match="replaced or deleted"):
            f.read(10)


def test_a_listing_asks_only_for_the_fields_it_uses(gcs: Gcs) -> None:
    gcs.bucket.put("d/k", b"hello", content_type="text/plain", metadata={"team": "Data"})
    gcs.bucket.put("d/l", b"")
    gcs.spy.requests.clear()
    listed = list(gcs.bucket.list("d/"))
    assert [e.key for e in listed] == ["d/k", "d/l"]
    assert len(gcs.spy.requests) == 1
    assert "fields=items%28name" in gcs.spy.requests[0].query
    head = gcs.bucket.head("d/k")
    kept = ("size", "etag", "content_type", "metadata", "checksums", "last_modified")
    assert {n: getattr(listed[0], n) for n in kept} == {n: getattr(head, n) for n in kept}


def test_bytes_given_whole_go_in_one_chunk_request(gcs: Gcs) -> None:
    data = _payload(20 * MiB)  # over the 8 MiB multipart limit, under the SDK's 100 MiB chunk
    gcs.bucket.put("k", data)
    assert len(gcs.spy.session_puts()) == 1
    assert gcs.bucket.get("k") == data


def test_a_stream_keeps_moving_in_chunk_size_pieces(gcs: Gcs) -> None:
    # Streams keep their memory bound: 8 MiB chunks by default, whatever was written at once.
    data = _payload(17 * MiB)
    gcs.bucket.put("k", io.BytesIO(data))
    assert [r.body_size for r in gcs.spy.session_puts()] == [8 * MiB, 8 * MiB, MiB]
    assert gcs.bucket.get("k") == data

"""The gs:// provider's read descriptions and write buffer, with answers built by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

pytest.importorskip("google.cloud.storage")

from requests.structures import CaseInsensitiveDict

from portacloud.checksums import crc32c_hex, crc32c_to_base64
from portacloud.errors import UnavailableError
from portacloud_gcp.buffer import ChunkBuffer
from portacloud_gcp.reads import info_from_headers

BODY = b"hello world"
CRC = crc32c_hex(BODY)


class Answer:
    """The two attributes of a requests.Response that info_from_headers reads."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers)


def full_headers() -> dict[str, str]:
    # The header block fake-gcs-server sends, in its order (Go writes them sorted).
    return {
        "Content-Length": str(len(BODY)),
        "Content-Type": "text/plain",
        "Last-Modified": "Sat, 05 Dec 2026 21:11:42 GMT",
        "X-Goog-Generation": "1796505102131934",
        "X-Goog-Hash": f"crc32c={crc32c_to_base64(CRC)},md5=XrY7u+Ae7tCTyyK7j1rNww==",
        "X-Goog-Meta-Foo": "Bar",
        "X-Goog-Meta-Portacloud-Internal": "hidden",
    }


def test_a_download_answer_describes_the_whole_object() -> None:
    info = info_from_headers("k", Answer(200, full_headers()))
    assert info.key == "k"
    assert info.size == len(BODY)
    assert info.etag == "1796505102131934"
    assert info.crc32c == CRC
    assert info.content_type == "text/plain"
    assert info.metadata == {"foo": "Bar"}  # names lower-cased, reserved names left out
    assert info.last_modified == datetime(2026, 12, 5, 21, 11, 42, tzinfo=UTC)


def test_a_ranged_answer_takes_the_size_from_content_range() -> None:
    headers = {**full_headers(), "Content-Length": "3", "Content-Range": "bytes 2-4/11"}
    assert info_from_headers("k", Answer(206, headers)).size == 11


def test_gcs_sends_the_two_hashes_as_separate_headers() -> None:
    headers = full_headers()
    headers["X-Goog-Hash"] = f"md5=XrY7u+Ae7tCTyyK7j1rNww==, crc32c={crc32c_to_base64(CRC)}"
    assert info_from_headers("k", Answer(200, headers)).crc32c == CRC


def test_metadata_values_keep_their_utf8() -> None:
    headers = {**full_headers(), "X-Goog-Meta-Name": "caf\u00e9".encode().decode("latin-1")}
    assert info_from_headers("k", Answer(200, headers)).metadata["name"] == "caf\u00e9"


@pytest.mark.parametrize("lost", ["X-Goog-Generation", "X-Goog-Hash", "Content-Length"])
def test_a_header_block_cut_short_is_retryable_unavailable(lost: str) -> None:
    # A connection closed inside the header block parses, minus the lines that did not come:
    # without the CRC32C the read could not be checked, without the generation not pinned.
    headers = full_headers()
    del headers[lost]
    with pytest.raises(UnavailableError) as caught:
        info_from_headers("k", Answer(200, headers))
    assert caught.value.retryable


def test_the_chunk_buffer_gives_back_exactly_what_was_written() -> None:
    rng = random.Random(12)
    for _ in range(200):
        buffer, written, taken = ChunkBuffer(), bytearray(), bytearray()
        for _ in range(30):
            if rng.random() < 0.6:
                piece = rng.randbytes(rng.randint(0, 50))
                buffer.append(piece)
                written += piece
            else:
                taken += buffer.take(rng.randint(0, 80))
            assert len(buffer) == len(written) - len(taken)
        taken += buffer.take(len(buffer))
        assert bytes(taken) == bytes(written)


def test_a_chunk_of_whole_pieces_is_not_copied() -> None:
    buffer = ChunkBuffer()
    first, second = b"a" * 8, b"b" * 8
    buffer.append(first)
    buffer.append(second)
    assert buffer.take(8) is first
    assert buffer.take(3) == b"bbb"
    buffer.clear()
    assert len(buffer) == 0
    assert buffer.take(5) == b""

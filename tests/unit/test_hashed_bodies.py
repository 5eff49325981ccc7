"""Write bodies that carry their own CRC32C (storage/hashed.py): hashed once, never claimed.

``Bucket.put`` takes the checksum of a HashedBytes or of a HashingReader it read from the first
byte to EOF instead of hashing again; anything else it hashes as before. The checksum is always
one computed over the bytes handed out, and a write whose bytes it might not describe fails.
"""

from __future__ import annotations

import dataclasses
import io
import random
import uuid
from unittest import mock

import google_crc32c
import pytest

import portacloud
from portacloud import checksums
from portacloud.checksums import crc32c_hex
from portacloud.errors import InternalError, InvalidArgumentError
from portacloud.storage.hashed import HashedBytes, HashingReader, unread_hashing
from portacloud.storage.models import ObjectInfo
from portacloud.storage.streams import ObjectWriter


class _Spy:
    """Counts the bytes that ``google_crc32c`` (behind portacloud.checksums) hashes."""

    def __init__(self) -> None:
        self.calls = mock.Mock(wraps=google_crc32c)

    @property
    def hashed(self) -> int:
        calls = self.calls.value.call_args_list + self.calls.extend.call_args_list
        return sum(memoryview(call.args[-1]).nbytes for call in calls)

    def reset(self) -> None:
        self.calls.reset_mock()


class _Chunks(HashingReader):
    """Hands out a bytes object in chunks of ``step``."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        super().__init__()
        self._source = io.BytesIO(data)
        self._step = step

    def read_chunk(self, size: int) -> bytes:
        return self._source.read(min(size, self._step))


class _Recorder:
    """A driver writer that keeps what it was given (for ObjectWriter's own logic)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.committed: str | None = None
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def commit(self, *, crc32c: str) -> ObjectInfo:
        self.committed = crc32c
        return ObjectInfo(
            key="k", size=sum(map(len, self.parts)), etag="e", checksums={"crc32c": crc32c}
        )

    def abort(self) -> None:
        self.aborted = True


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    spy = _Spy()
    monkeypatch.setattr(checksums, "google_crc32c", spy.calls)
    return spy


@pytest.fixture
def bucket() -> portacloud.Bucket:
    return portacloud.open_bucket(f"memory://hashed-{uuid.uuid4().hex[:12]}")


DATA = random.Random(5).randbytes(50_000)


def test_hashed_bytes_computes_its_checksum_and_takes_none() -> None:
    body = HashedBytes(DATA)
    assert body.crc32c == crc32c_hex(DATA)
    assert len(body) == len(DATA)
    with pytest.raises(TypeError):
        HashedBytes(DATA, crc32c="00000000")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(body, crc32c="00000000")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        body.crc32c = "00000000"  # type: ignore[misc]
    with pytest.raises(InvalidArgumentError):
        HashedBytes(bytearray(DATA))  # type: ignore[arg-type]  # mutable: could change later


def test_a_hashing_reader_cannot_override_read() -> None:
    with pytest.raises(TypeError, match="read_chunk"):

        class _Sneaky(HashingReader):
            def read(self, size: int = -1) -> bytes:
                return b""


def test_put_of_hashed_bytes_hashes_nothing_again(
    bucket: portacloud.Bucket, counting: _Spy
) -> None:
    body = HashedBytes(DATA)
    counting.reset()
    info = bucket.put("a", body, content_type="application/x-test")
    assert counting.hashed == 0
    assert info.crc32c == crc32c_hex(DATA)
    assert bucket.get("a") == DATA  # the record checks against the stored bytes


def test_put_of_plain_bytes_still_hashes_them(bucket: portacloud.Bucket, counting: _Spy) -> None:
    info = bucket.put("a", bytearray(DATA))
    assert counting.hashed == len(DATA)
    assert info.crc32c == crc32c_hex(DATA)


def test_put_of_a_hashing_reader_hashes_each_byte_once(
    bucket: portacloud.Bucket, counting: _Spy
) -> None:
    body = _Chunks(DATA)
    assert unread_hashing(body) is body
    info = bucket.put("s", body)
    assert counting.hashed == len(DATA)
    assert body.at_eof
    assert body.count == len(DATA)
    assert info.crc32c == crc32c_hex(DATA) == body.crc32c()
    assert bucket.get("s") == DATA


def test_a_reader_read_before_put_is_hashed_by_the_write(
    bucket: portacloud.Bucket, counting: _Spy
) -> None:
    body = _Chunks(DATA)
    head = body.read(10)
    assert unread_hashing(body) is None  # its checksum would cover bytes the write never sees
    counting.reset()
    info = bucket.put("s", body)
    assert counting.hashed == 2 * (len(DATA) - len(head))  # the body's and the write's own
    assert info.crc32c == crc32c_hex(DATA[10:])
    assert bucket.get("s") == DATA[10:]


def test_a_writer_refuses_a_body_checksum_that_does_not_cover_what_it_sent() -> None:
    body = _Chunks(DATA)
    first = body.read(100)
    rest = body.readall()  # to EOF
    assert body.at_eof
    assert len(first) + len(rest) == len(DATA)
    driver = _Recorder()
    writer = ObjectWriter(driver, guard=lambda fn: fn(), relative=lambda i: i, hashed_by=body)
    writer.write(rest)  # not `first`: the body's checksum covers bytes never sent
    with pytest.raises(InternalError, match="discarded"):
        writer.close()
    assert driver.committed is None
    assert driver.aborted
    assert first  # read, hashed, never written


def test_a_writer_refuses_a_body_not_read_to_its_end() -> None:
    body = _Chunks(DATA)
    chunk = body.read(100)
    driver = _Recorder()
    writer = ObjectWriter(driver, guard=lambda fn: fn(), relative=lambda i: i, hashed_by=body)
    writer.write(chunk)
    with pytest.raises(InternalError):
        writer.close()
    assert driver.committed is None
    assert driver.aborted


def test_reader_check_can_be_left_to_the_caller_only_before_the_first_byte(
    bucket: portacloud.Bucket,
) -> None:
    bucket.put("r", DATA)
    with bucket.open("r") as fresh:
        assert fresh.raw.leave_check_to_caller()  # type: ignore[attr-defined]
    with bucket.open("r") as started:
        started.read(1)
        assert not started.raw.leave_check_to_caller()  # type: ignore[attr-defined]

"""Reading objects for a migration: pinned versions, metered streams, checksums of bytes."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from portacloud.checksums import Crc32c
from portacloud.errors import CancelledError, ChecksumMismatchError
from portacloud.storage.bucket import Bucket
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.hashed import HashingReader
from portacloud.storage.models import ObjectInfo
from portacloud.storage.streams import ObjectReader, verify_crc32c

__all__ = [
    "Meter",
    "ReadCheck",
    "StreamedChecksum",
    "checksum_of",
    "native_md5",
    "opened_info",
    "read_all",
    "read_check",
    "read_crc32c",
    "take_over_check",
]

_CHUNK = 8 * 1024 * 1024
_MD5_HEX = re.compile(r"[0-9a-f]{32}")

#: Called with (key, bytes) as a stream moves bytes; runs on worker threads.
BytesCallback = Callable[[str, int], None]

#: Called with the CRC32C of all the bytes one copy read, before any of them can be written;
#: raises ChecksumMismatchError when they cannot be the source's.
ReadCheck = Callable[[str], None]


def native_md5(capabilities: StorageCapabilities, info: ObjectInfo) -> str | None:
    """The MD5 of an object's bytes that its own service computed, where its etag is one.

    On backends whose capabilities say ``etag_is_md5`` (S3), an object written in one request
    has the MD5 of its bytes as its etag (32 hex digits; multipart etags end in ``-N``).
    Encrypted objects (SSE-KMS, SSE-C) have other etags of the same shape, so a match proves
    the bytes read are the stored ones and a mismatch proves nothing either way.
    """
    if not capabilities.etag_is_md5:
        return None
    etag = info.etag.strip('"')
    return etag if _MD5_HEX.fullmatch(etag) else None


def opened_info(reader: io.BufferedReader) -> ObjectInfo | None:
    """The description of exactly the version an open reader is reading.

    ``Bucket.open`` returns a buffered reader over an ``ObjectReader`` whose ``info`` comes from
    the same response as the bytes, so its etag pins the version without a racy extra ``head``.
    """
    info = getattr(reader.raw, "info", None)
    return info if isinstance(info, ObjectInfo) else None


def take_over_check(reader: io.BufferedReader) -> None:
    """Make a reader fresh from ``Bucket.open`` stop hashing what it reads.

    Its caller hashes every byte it reads anyway (that hash becomes the destination's record)
    and checks it with a :func:`read_check`, which does what the reader would do at EOF: one
    computation instead of two.
    """
    raw = reader.raw
    if isinstance(raw, ObjectReader):
        raw.leave_check_to_caller()


def read_check(info: ObjectInfo, *, expected: str | None, provider: str) -> ReadCheck:
    """What the bytes one copy read from ``info``'s version must pass before they are written.

    Args:
        info: The version opened; its recorded CRC32C (if any) must be the bytes'.
        expected: A CRC32C an earlier read of this version established (when it records none).
        provider: The source's provider, for errors.
    """

    def check(crc: str) -> None:
        # The reader's own check at EOF (taken over), and then a truncated or lengthened read
        # too: either way the bytes are not the ones the source recorded.
        verify_crc32c(info, crc, provider=provider)
        if expected is not None and crc != expected:
            raise ChecksumMismatchError(
                f"read CRC32C {crc} but an earlier read of this version found {expected}; "
                "the bytes were corrupted or truncated in transit",
                operation="get",
                resource=info.key,
                retryable=True,
            )

    return check


def read_all(reader: io.BufferedReader, size: int) -> bytes:
    """Read a small object to the end (or past its size, if it grew: its check then fails).

    A single ``read(size + 1)`` reads straight into one buffer and then sees EOF, which is
    where a reader that kept its own check compares the bytes with the recorded checksum.
    """
    data = reader.read(size + 1)
    if len(data) == size:
        return data
    return data + reader.read()


class Meter(HashingReader):
    """A body that hashes and counts what passes through it, checks it, and can be cancelled.

    ``Bucket.put`` reads it in 8 MiB chunks, so memory stays bounded whatever the object size,
    and records its CRC32C (:meth:`crc32c`, computed over exactly the bytes handed to the
    write) rather than hashing them again. At EOF the bytes must pass ``check`` before the
    write can commit. Errors raised by the source while reading are remembered, so that the
    caller can tell a failure of the source from a failure of the destination write they
    surface through.

    Args:
        reader: The source object, open, nothing read yet (see :func:`take_over_check`).
        key: Its key, for progress and errors.
        check: What the bytes must pass (:func:`read_check`).
        md5: Also compute the MD5 of the bytes (to compare with a native one).
        on_bytes: Progress callback.
        cancel: Set to stop at the next chunk.
    """

    def __init__(
        self,
        reader: io.BufferedReader,
        *,
        key: str,
        check: ReadCheck,
        md5: bool = False,
        on_bytes: BytesCallback | None,
        cancel: threading.Event,
    ) -> None:
        super().__init__()
        self._reader = reader
        self._key = key
        self._check = check
        self._on_bytes = on_bytes
        self._cancel = cancel
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self.source_error: BaseException | None = None

    def read_chunk(self, size: int) -> bytes:
        if self._cancel.is_set():
            raise CancelledError("the migration was interrupted", resource=self._key)
        try:
            data = self._reader.read(size)
        except BaseException as exc:
            self.source_error = exc
            raise
        if self._md5 is not None:
            self._md5.update(data)
        if data and self._on_bytes is not None:
            self._on_bytes(self._key, len(data))
        if not data:
            try:
                self._check(self.crc32c())  # every byte is hashed by now
            except ChecksumMismatchError as exc:
                self.source_error = exc
                raise
        return data

    def md5(self) -> str | None:
        """The MD5 of the bytes read, if it was asked for."""
        return None if self._md5 is None else self._md5.hexdigest()


@dataclass(frozen=True, slots=True)
class StreamedChecksum:
    """The CRC32C of an object's bytes, computed by reading them.

    Attributes:
        etag: The version that was read.
        size: Bytes read.
        crc32c: CRC32C of those bytes.
        recorded: The CRC32C the object carries, if any; when it differs from ``crc32c`` the
            stored checksum (or the bytes) are corrupt.
    """

    etag: str
    size: int
    crc32c: str
    recorded: str | None


def read_crc32c(
    bucket: Bucket,
    key: str,
    *,
    on_bytes: BytesCallback | None = None,
    cancel: threading.Event | None = None,
) -> StreamedChecksum:
    """Stream an object and compute the CRC32C of its bytes, with bounded memory.

    A recorded checksum that disagrees with the bytes is reported in the result rather than
    raised: verification wants both values, to name them.
    """
    running = Crc32c()
    size = 0
    buffer = memoryview(bytearray(_CHUNK))
    with bucket.open(key) as reader:
        info = opened_info(reader) or bucket.head(key)
        # `running` is the one hash, and the reader raises nothing at EOF: the result names
        # both values. The raw reader fills one reused buffer.
        take_over_check(reader)
        raw = reader.raw
        while True:
            if cancel is not None and cancel.is_set():
                raise CancelledError("the verification was interrupted", resource=key)
            n = raw.readinto(buffer)
            if not n:
                break
            running.update(bytes(buffer[:n]))  # google-crc32c takes bytes only
            size += n
            if on_bytes is not None:
                on_bytes(key, n)
    return StreamedChecksum(
        etag=info.etag, size=size, crc32c=running.hexdigest(), recorded=info.crc32c
    )


def checksum_of(
    bucket: Bucket,
    key: str,
    *,
    cancel: threading.Event | None = None,
) -> StreamedChecksum:
    """The CRC32C of an object: the one it records (a head), else computed from its bytes.

    Listings of some backends carry no checksum (S3's ListObjectsV2 has no user metadata);
    a head is one cheap request, and reading the bytes is the fallback for objects written
    by other tools.
    """
    head = bucket.head(key)
    if head.crc32c is not None:
        return StreamedChecksum(
            etag=head.etag, size=head.size, crc32c=head.crc32c, recorded=head.crc32c
        )
    read = read_crc32c(bucket, key, cancel=cancel)
    if read.recorded is not None:
        # The head's answer was cut short before its checksum: the one the object records is
        # what the head would have said, and the bytes just read may be damaged on the way.
        return replace(read, crc32c=read.recorded)
    return read

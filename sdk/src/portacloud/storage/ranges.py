"""Byte ranges of reads: checking a caller's ``(start, end)`` and the length it must yield."""

from __future__ import annotations

from portacloud.checksums import crc32c_hex
from portacloud.errors import InvalidArgumentError, UnavailableError
from portacloud.storage.models import ObjectInfo
from portacloud.storage.streams import verify_crc32c

__all__ = ["checked_read", "expected_length", "is_int", "parse_range", "sized_range"]


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_range(rng: tuple[int | None, int | None] | None) -> tuple[int, int | None, bool]:
    """Return (start, end, needs_size) for the driver."""
    if rng is None:
        return 0, None, False
    if not isinstance(rng, tuple) or len(rng) != 2:
        raise InvalidArgumentError("range must be a (start, end) tuple")
    start, end = rng
    if start is not None and not is_int(start):
        raise InvalidArgumentError(f"range start must be an int or None, not {start!r}")
    if end is not None and not is_int(end):
        raise InvalidArgumentError(f"range end must be an int or None, not {end!r}")
    s = 0 if start is None else start
    if s < 0 and end is None:
        return s, None, False  # a suffix: HTTP ranges say this natively
    if s < 0 or (end is not None and (end < 0 or end <= s)):
        return s, end, True
    return s, end, False


def expected_length(size: int, start: int, end: int | None) -> int:
    """How many bytes a read of ``[start, end)`` of a ``size``-byte object yields."""
    if start < 0:
        return min(-start, size)
    stop = size if end is None else min(end, size)
    return max(0, stop - start)


def sized_range(start: int, end: int | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` of a ``size``-byte object with Python slice rules, ``None`` if empty."""
    s, e, _ = slice(start, end).indices(size)
    return None if e <= s else (s, e)


def checked_read(
    data: bytes, info: ObjectInfo, start: int, end: int | None, *, whole: bool, provider: str
) -> bytes:
    """``data``, read as bytes ``[start, end)`` of the object ``info`` describes, once it has
    the length it must have and, for a ``whole`` read, the recorded CRC32C.

    Raises:
        UnavailableError: the body was cut short (retryable).
        ChecksumMismatchError: the bytes differ from what was written (retryable).
    """
    expected = expected_length(info.size, start, end)
    if len(data) != expected:
        raise UnavailableError(
            f"the backend returned {len(data)} bytes where {expected} were expected "
            "(truncated body)"
        )
    if whole:
        verify_crc32c(info, crc32c_hex(data), provider=provider)
    return data

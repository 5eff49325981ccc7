"""The portable CRC32C that every object written through portacloud carries.

CRC32C is what GCS and S3 compute natively and it combines across parts, so it survives
multipart uploads where ETags do not. It is computed with ``google-crc32c``'s C extension: it
sits on every byte of every transfer, so a pure-Python loop is never acceptable here.
"""

from __future__ import annotations

import base64

import google_crc32c

__all__ = [
    "CRC32C_METADATA_KEY",
    "Crc32c",
    "crc32c_from_base64",
    "crc32c_hex",
    "crc32c_to_base64",
]

#: User-metadata name under which providers without a native CRC32C store the portable one.
CRC32C_METADATA_KEY = "portacloud-crc32c"

if google_crc32c.implementation != "c":  # pragma: no cover - depends on the wheel installed
    raise ImportError(
        "google-crc32c is using its pure-Python fallback; install a wheel with the C extension"
    )


class Crc32c:
    """A running CRC32C over chunks, rendered as 8 lower-case hex digits."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Extend the checksum with ``data``."""
        self._value = google_crc32c.extend(self._value, data)

    @property
    def value(self) -> int:
        """The checksum so far, as an unsigned 32-bit integer."""
        return self._value

    def hexdigest(self) -> str:
        """The checksum so far as 8 lower-case hex digits (the portable form)."""
        return f"{self._value:08x}"


def crc32c_hex(data: bytes | bytearray | memoryview) -> str:
    """Return the portable CRC32C of ``data``."""
    return f"{google_crc32c.value(data):08x}"


def crc32c_to_base64(hex_digest: str) -> str:
    """Convert the portable hex form to the base64 big-endian form GCS and S3 headers use."""
    return base64.b64encode(int(hex_digest, 16).to_bytes(4, "big")).decode("ascii")


def crc32c_from_base64(value: str) -> str:
    """Convert a GCS/S3 base64 CRC32C to the portable hex form."""
    return f"{int.from_bytes(base64.b64decode(value), 'big'):08x}"

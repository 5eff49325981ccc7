"""Write bodies that carry the CRC32C of exactly their bytes, so that a write hashes them once.

Every object written through portacloud records the CRC32C of the bytes it was sent. A caller
that has already hashed those very bytes (a migration, which hashes what it reads to check the
source) hands :meth:`Bucket.put <portacloud.Bucket.put>` one of these bodies, and the write
takes the checksum instead of computing it again. Neither can carry a claimed checksum: each
computes its own over the bytes it hands out, so the record is still a computation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from portacloud.checksums import Crc32c, crc32c_hex
from portacloud.errors import InvalidArgumentError

__all__ = ["HashedBytes", "HashingReader", "InMemory", "hashed", "in_memory", "unread_hashing"]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HashedBytes:
    """Bytes in memory and the CRC32C computed over that same immutable object.

    Attributes:
        data: The bytes.
        crc32c: Their CRC32C, computed when this was made (never given).
    """

    data: bytes
    crc32c: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise InvalidArgumentError(f"HashedBytes holds bytes, not {type(self.data).__name__}")
        object.__setattr__(self, "crc32c", crc32c_hex(self.data))

    def __len__(self) -> int:
        return len(self.data)


class HashingReader(io.RawIOBase):
    """A raw reader that hashes every byte it hands out, in order.

    Subclasses implement :meth:`read_chunk`; :meth:`read` (which they may not override) hashes
    and counts what it returns, so that :meth:`crc32c` is the CRC32C of all of it by
    construction. A write that sent every byte from the first read to EOF takes that checksum.
    """

    def __init__(self) -> None:
        super().__init__()
        self._crc = Crc32c()
        self._count = 0
        self._eof = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "read" in cls.__dict__:
            raise TypeError(f"{cls.__name__} overrides read(): implement read_chunk() instead")

    def readable(self) -> bool:
        return True

    def read_chunk(self, size: int) -> bytes:
        """Return the next bytes (at most ``size``, or a chunk when ``size`` < 0); ``b""`` at EOF.

        Anything raised here reaches the reader's caller; the bytes returned before it stay
        hashed.
        """
        raise NotImplementedError

    def read(self, size: int = -1) -> bytes:
        data = self.read_chunk(size if size >= 0 else _CHUNK)
        if type(data) is not bytes:  # an immutable copy: the bytes hashed are the bytes sent
            data = bytes(data)
        self._crc.update(data)
        self._count += len(data)
        if not data:
            self._eof = True
        return data

    @property
    def count(self) -> int:
        """Bytes handed out so far."""
        return self._count

    @property
    def at_eof(self) -> bool:
        """Whether a read returned ``b""`` (the end of the body)."""
        return self._eof

    def crc32c(self) -> str:
        """The CRC32C of every byte handed out so far (all of them once :attr:`at_eof`)."""
        return self._crc.hexdigest()


#: A write's body in memory: bytes, hashed where the caller hashed them already.
InMemory = bytes | HashedBytes


def in_memory(data: object) -> InMemory | None:
    """A write's body when it is in memory: a copy of bytes-like ``data`` (which the caller
    may change later), ``data`` itself when it is hashed already; ``None`` for the streams
    and iterables that a write reads chunk by chunk."""
    if isinstance(data, HashedBytes):
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return None


def hashed(body: InMemory) -> HashedBytes:
    """``body`` with the CRC32C of its bytes, computed here unless it was already."""
    return body if isinstance(body, HashedBytes) else HashedBytes(body)


def unread_hashing(data: object) -> HashingReader | None:
    """``data`` if it is a hashing reader that has handed out nothing yet, else ``None``.

    Only such a reader's checksum covers every byte a write of it will send.
    """
    if isinstance(data, HashingReader) and data.count == 0 and not data.at_eof:
        return data
    return None

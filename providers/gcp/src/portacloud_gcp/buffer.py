"""The bytes a streamed write holds until a resumable-upload chunk is full."""

from __future__ import annotations

from collections import deque

__all__ = ["ChunkBuffer"]


class ChunkBuffer:
    """Pieces as they were written, taken off the front in chunks.

    The pieces are kept, not copied into one growing buffer: a chunk made of whole pieces
    (the usual case, writes of the chunk size) is sent without copying its bytes at all, and
    a large chunk is copied at most once.
    """

    def __init__(self) -> None:
        self._pieces: deque[bytes] = deque()
        self._front = 0  # bytes of the first piece already taken
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        """Hold ``data`` after what is already held."""
        if data:
            self._pieces.append(data)
            self._size += len(data)

    def take(self, count: int) -> bytes:
        """The first ``count`` held bytes (at most what is held), no longer held."""
        out: list[bytes] = []
        need = min(count, self._size)
        self._size -= need
        while need:
            piece, start = self._pieces[0], self._front
            stop = min(len(piece), start + need)
            # A whole piece is passed on as it is; only a part of one is copied.
            out.append(piece if (start, stop) == (0, len(piece)) else piece[start:stop])
            need -= stop - start
            if stop == len(piece):
                self._pieces.popleft()
                self._front = 0
            else:
                self._front = stop
        return out[0] if len(out) == 1 else b"".join(out)

    def clear(self) -> None:
        """Hold nothing."""
        self._pieces.clear()
        self._front = self._size = 0

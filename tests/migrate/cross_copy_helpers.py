"""What the tests of server-side copies across buckets share: the objects they migrate, a
source whose reads fail, and the lines of a receipt."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from migrate_helpers import Objects

import portacloud
from portacloud.migrate.receipt import read_receipt

MiB = 1024 * 1024

#: A receipt line as a tuple: (key, size, crc32c, src_etag, dst_etag).
ReceiptRow = tuple[str, int, str, str, str]


def cross_copy_objects() -> Objects:
    """50 small objects with metadata, and one of 6 MiB (a multi-part or multi-block write)."""
    rng = random.Random(12)
    objects = {
        f"small/{i:03d} key+.bin": (rng.randbytes(rng.randint(1, 32 * 1024)), {"n": str(i)})
        for i in range(50)
    }
    objects["large/six.bin"] = (rng.randbytes(6 * MiB), {"large": "yes"})
    return objects


def make_unreadable(bucket: portacloud.Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every read of ``bucket``'s objects fail: only a server-side copy can succeed."""

    def read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the migration read the source through the client")

    monkeypatch.setattr(bucket._driver, "read", read)


def receipt_rows(path: str | None) -> list[ReceiptRow]:
    """The lines of the receipt at ``path``, as tuples."""
    assert path is not None
    return [(r.key, r.size, r.crc32c, r.src_etag, r.dst_etag) for r in read_receipt(Path(path))]

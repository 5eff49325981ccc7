"""The receipt: one JSON line per verified object, fingerprinted with SHA-256.

An auditor keeps the SHA-256 printed at the end of a migration; later, ``portacloud verify
--receipt FILE DST`` checks that the file is the one fingerprinted and that every object in it
is still at the destination with the same size and CRC32C.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from portacloud.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from portacloud.migrate.journal import JournalRow
from portacloud.private_files import moved_into_place, open_private, private_dir

__all__ = ["ReceiptLine", "file_sha256", "read_receipt", "write_jsonl", "write_receipt"]


class ReceiptLine(BaseModel):
    """One object of a receipt.

    Attributes:
        key: The key, relative to both URLs.
        size: Its size in bytes.
        crc32c: The CRC32C of its bytes, equal at the source and the destination.
        src_etag: The source version that was copied (etag, or generation where the backend
            uses them as etags).
        dst_etag: The destination version that was verified.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    size: int = Field(ge=0)
    crc32c: str
    src_etag: str
    dst_etag: str


def write_receipt(rows: Iterable[JournalRow], path: Path) -> tuple[int, str]:
    """Write the receipt of ``rows`` atomically (temp file, fsync, rename).

    Returns:
        The number of lines and the file's SHA-256 (hex).
    """
    return write_jsonl(
        (
            ReceiptLine(
                key=row.key,
                size=row.size,
                crc32c=row.src_crc32c or "",
                src_etag=row.src_etag or "",
                dst_etag=row.dst_etag or "",
            )
            for row in rows
        ),
        path,
    )


def write_jsonl(lines: Iterable[BaseModel], path: Path) -> tuple[int, str]:
    """Write one compact JSON line per model atomically (temp file, fsync, rename), 0600.

    The form of every receipt (``migrate``, ``erase``): its SHA-256 is what an auditor keeps.

    Returns:
        The number of lines and the file's SHA-256 (hex).
    """
    # A receipt comes at the end of a long run: make its directory rather than lose it.
    private_dir(path.parent, tighten=False)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    digest = hashlib.sha256()
    count = 0
    with moved_into_place(tmp, path, open_private(tmp, "wb")) as out:
        for line in lines:
            data = (
                json.dumps(line.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
                + "\n"
            ).encode()
            digest.update(data)
            out.write(data)
            count += 1
    return count, digest.hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def read_receipt(path: Path, *, expected_sha256: str | None = None) -> Iterator[ReceiptLine]:
    """Read a receipt line by line.

    Args:
        path: The receipt file.
        expected_sha256: If given, the file must have this SHA-256 (checked before any line
            is yielded).

    Raises:
        NotFoundError: No such file.
        FailedPreconditionError: The file's SHA-256 is not ``expected_sha256``.
        InvalidArgumentError: A line is not a receipt line.
    """
    if not path.is_file():
        raise NotFoundError(f"no such receipt file: {path}", operation="verify")
    if expected_sha256 is not None:
        actual = file_sha256(path)
        if actual != expected_sha256.lower():
            raise FailedPreconditionError(
                f"the receipt {path} has SHA-256 {actual}, not {expected_sha256}: it is not "
                "the file that was fingerprinted",
                operation="verify",
            )
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                yield ReceiptLine.model_validate_json(text)
            except ValidationError as exc:
                raise InvalidArgumentError(
                    f"{path}:{number} is not a receipt line ({exc.error_count()} error(s))",
                    operation="verify",
                ) from None

"""Portable metadata names <-> Azure metadata names.

Azure accepts only C# identifiers as metadata names (letters, digits and ``_``, not starting
with a digit), and answers anything else with 400 ``InvalidMetadata``; Azurite is laxer and
accepts ``-``, so only the real service shows the problem. Portable names are
``[a-z0-9][a-z0-9_.-]*`` (S3's and GCS's rules), so every name goes through a reversible
escape on the way in and back:

- ``_`` becomes ``__``, ``-`` becomes ``_h``, ``.`` becomes ``_d``;
- a name that would start with a digit gets a leading ``_s``

(:mod:`portacloud.storage.identifier_names`, shared with ``libcloud+azure-blobs://``).

So ``content-sha256`` is stored as ``content_hsha256`` and the portable checksum's
:data:`~portacloud.checksums.CRC32C_METADATA_KEY` (``portacloud-crc32c``) as
``portacloud_hcrc32c``. Names written by other tools decode to themselves, lower-cased, unless
they happen to contain one of the escapes.
"""

from __future__ import annotations

from collections.abc import Mapping

from portacloud.checksums import CRC32C_METADATA_KEY
from portacloud.storage.identifier_names import decode_identifier_name as decode_name
from portacloud.storage.identifier_names import encode_identifier_name as encode_name

__all__ = ["AZURE_CRC32C_NAME", "decode_metadata", "decode_name", "encode_metadata", "encode_name"]

#: The Azure metadata name that carries the portable CRC32C.
AZURE_CRC32C_NAME = encode_name(CRC32C_METADATA_KEY)


def encode_metadata(metadata: Mapping[str, str], crc32c: str | None) -> dict[str, str]:
    """Return the Azure metadata for a portable write, the CRC32C included."""
    out = {encode_name(name): value for name, value in metadata.items()}
    if crc32c:
        out[AZURE_CRC32C_NAME] = crc32c
    return out


def decode_metadata(raw: Mapping[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """Split Azure metadata into (portable user metadata, portable checksums)."""
    metadata: dict[str, str] = {}
    checksums: dict[str, str] = {}
    for name, value in (raw or {}).items():
        if name.lower() == AZURE_CRC32C_NAME:
            checksums["crc32c"] = value.lower()
        else:
            metadata[decode_name(name)] = value
    return metadata, checksums

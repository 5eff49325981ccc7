"""Portable metadata names <-> the names each libcloud storage driver stores.

S3-style services take the portable names (``[a-z0-9][a-z0-9_.-]*``) as they are. Azure accepts
only C# identifiers and answers anything else with 400 ``InvalidMetadata``, so for
``azure_blobs`` every name goes through the same reversible escape as the ``az://`` provider
(portacloud-azure), which keeps an object written by one readable, CRC32C included, by the
other (:mod:`portacloud.storage.identifier_names`).

The portable checksum travels as one more metadata entry,
:data:`~portacloud.checksums.CRC32C_METADATA_KEY` (``portacloud-crc32c``), never as an ETag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from portacloud.checksums import CRC32C_METADATA_KEY
from portacloud.storage.identifier_names import decode_identifier_name, encode_identifier_name

__all__ = ["AZURE_CODEC", "PLAIN_CODEC", "MetadataCodec"]

_HEX8 = re.compile(r"^[0-9a-f]{8}$")


def _identity(name: str) -> str:
    return name.lower()


@dataclass(frozen=True, slots=True)
class MetadataCodec:
    """How one driver family stores portable metadata names.

    Attributes:
        encode_name: Portable name -> stored name.
        decode_name: Stored name (as the server returns it) -> portable name.
    """

    encode_name: Callable[[str], str]
    decode_name: Callable[[str], str]

    def encode(self, metadata: Mapping[str, str], crc32c: str) -> dict[str, str]:
        """The driver's ``meta_data`` for a write: user metadata plus the portable CRC32C."""
        out = {self.encode_name(name): value for name, value in metadata.items()}
        out[self.encode_name(CRC32C_METADATA_KEY)] = crc32c
        return out

    def decode(self, raw: Mapping[str, object] | None) -> tuple[dict[str, str], dict[str, str]]:
        """Split stored metadata into (portable user metadata, portable checksums).

        Values that are not strings are not user metadata (libcloud's S3 listing puts the
        owner there as a dict) and are dropped; a CRC32C that is not 8 hex digits is ignored
        rather than trusted.
        """
        metadata: dict[str, str] = {}
        checksums: dict[str, str] = {}
        for stored, value in (raw or {}).items():
            if not isinstance(value, str):
                continue
            name = self.decode_name(str(stored))
            if name == CRC32C_METADATA_KEY:
                crc = value.strip().lower()
                if _HEX8.match(crc):
                    checksums["crc32c"] = crc
            else:
                metadata[name] = value
        return metadata, checksums


#: S3 and every driver whose service takes portable names as they are.
PLAIN_CODEC = MetadataCodec(encode_name=_identity, decode_name=_identity)
#: Azure Blob Storage: C# identifiers only.
AZURE_CODEC = MetadataCodec(encode_name=encode_identifier_name, decode_name=decode_identifier_name)

"""Portable metadata names <-> names that must be C# identifiers (Azure Blob metadata).

Azure accepts only C# identifiers as metadata names (letters, digits and ``_``, not starting
with a digit). Portable names are ``[a-z0-9][a-z0-9_.-]*`` (S3's and GCS's rules), so every
provider that reaches Azure (``az://`` and ``libcloud+azure-blobs://``) escapes them the same
reversible way, which keeps an object written by one readable, CRC32C included, by the other:

- ``_`` becomes ``__``, ``-`` becomes ``_h``, ``.`` becomes ``_d``;
- a name that would start with a digit gets a leading ``_s``.

Names written by other tools decode to themselves, lower-cased, unless they happen to contain
one of the escapes.
"""

from __future__ import annotations

__all__ = ["decode_identifier_name", "encode_identifier_name"]

_ESCAPES = {"_": "__", "-": "_h", ".": "_d"}
_UNESCAPES = {"_": "_", "h": "-", "d": "."}
_LEADING_DIGIT = "_s"


def encode_identifier_name(name: str) -> str:
    """Escape a portable metadata name into a C# identifier."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in name)
    return _LEADING_DIGIT + out if out[:1].isdigit() else out


def decode_identifier_name(name: str) -> str:
    """Undo :func:`encode_identifier_name`; a name with an unknown escape comes back as is."""
    lowered = name.lower()
    body = lowered[len(_LEADING_DIGIT) :] if lowered.startswith(_LEADING_DIGIT) else lowered
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "_":
            out.append(ch)
            i += 1
            continue
        plain = _UNESCAPES.get(body[i + 1 : i + 2])
        if plain is None:
            return lowered  # a name another tool wrote: keep it rather than guess
        out.append(plain)
        i += 2
    return "".join(out)

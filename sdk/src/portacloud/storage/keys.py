"""Key and metadata validation shared by every backend (done once, in the portable layer)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from portacloud.checksums import CRC32C_METADATA_KEY
from portacloud.errors import InvalidArgumentError
from portacloud.storage.capabilities import StorageCapabilities

__all__ = ["check_key", "check_metadata", "join_prefix"]

_METADATA_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_RESERVED_METADATA_PREFIX = "portacloud-"
_METADATA_BYTES_MAX = 2048  # S3's limit on all user metadata together is the tightest


def join_prefix(prefix: str, key: str) -> str:
    """Return the full key of ``key`` inside a bucket opened at ``prefix``."""
    return prefix + key


def _fail(key: str, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"invalid key: {why}", resource=key)


def check_key(key: object, caps: StorageCapabilities, *, full_key: str | None = None) -> str:
    """Check ``key`` against the portable rules and the backend's capabilities.

    Args:
        key: What the caller passed.
        caps: The backend's capabilities (key length and segment rules).
        full_key: The key joined with the bucket prefix, when it differs from ``key``.

    Returns:
        The key, unchanged: keys are opaque and never normalised.

    Raises:
        InvalidArgumentError: naming the rule the key breaks.
    """
    if not isinstance(key, str):
        raise InvalidArgumentError(f"key must be a str, not {type(key).__name__}")
    if not key:
        raise _fail(key, "the key is empty")
    full = key if full_key is None else full_key
    if "\x00" in full:
        raise _fail(key, "keys cannot contain NUL")
    try:
        encoded = full.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(key, "keys must be valid Unicode (no lone surrogates)") from exc
    if len(encoded) > caps.key_max_bytes:
        raise _fail(key, f"{len(encoded)} UTF-8 bytes, the backend allows {caps.key_max_bytes}")
    segments = full.split("/")
    if not caps.key_empty_segments and (full.startswith("/") or any(s == "" for s in segments[1:])):
        raise _fail(
            key,
            "this backend cannot store keys that start with '/', end with '/' or contain '//' "
            "(capability key_empty_segments)",
        )
    if not caps.key_dot_segments and any(s in (".", "..") for s in segments):
        raise _fail(
            key, "this backend cannot store '.' or '..' segments (capability key_dot_segments)"
        )
    if not caps.key_backslash and "\\" in full:
        raise _fail(key, "this backend cannot store '\\' in keys (capability key_backslash)")
    if not caps.key_control_chars and any(ord(c) < 32 or ord(c) == 127 for c in full):
        raise _fail(
            key, "this backend cannot store control characters (capability key_control_chars)"
        )
    if caps.key_max_segment_bytes is not None:
        longest = max(len(s.encode("utf-8")) for s in segments)
        if longest > caps.key_max_segment_bytes:
            raise _fail(
                key,
                f"a segment of {longest} bytes; this backend allows "
                f"{caps.key_max_segment_bytes} between slashes (capability key_max_segment_bytes)",
            )
    return key


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Validate user metadata and return it with lower-cased names.

    Names are case-insensitive on every cloud, so they are lower-cased here; values must be
    printable ASCII because S3 and Azure carry them in HTTP headers.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError("metadata must be a mapping of str to str")
    out: dict[str, str] = {}
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidArgumentError(f"metadata {name!r}: names and values must be str")
        lowered = name.lower()
        if not _METADATA_NAME.match(lowered):
            raise InvalidArgumentError(
                f"metadata name {name!r}: use letters, digits, '-', '_' and '.', "
                "starting with a letter or digit"
            )
        if lowered.startswith(_RESERVED_METADATA_PREFIX) or lowered == CRC32C_METADATA_KEY:
            raise InvalidArgumentError(f"metadata name {name!r}: 'portacloud-' is reserved")
        if lowered in out:
            raise InvalidArgumentError(f"metadata name {name!r} given twice (names ignore case)")
        if not value.isascii() or not value.isprintable():
            raise InvalidArgumentError(
                f"metadata {name!r}: values must be printable ASCII (they travel as HTTP headers)"
            )
        out[lowered] = value
    total = sum(len(k) + len(v) for k, v in out.items())
    if total > _METADATA_BYTES_MAX:
        raise InvalidArgumentError(
            f"metadata is {total} bytes; the portable limit is {_METADATA_BYTES_MAX}"
        )
    return out

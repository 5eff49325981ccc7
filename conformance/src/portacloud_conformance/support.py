"""Helpers the conformance tests share: capability gates, payloads, the odd-key oracle."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Protocol

import pytest

import portacloud
from portacloud import PortaCloudError, StorageCapabilities

__all__ = [
    "cleanup_prefix",
    "key_expected_valid",
    "payload",
    "payload_chunks",
    "require",
    "require_missing",
]


class _Declares(Protocol):
    @property
    def provider(self) -> str: ...

    @property
    def capabilities(self) -> object: ...


def require(handle: _Declares, capability: str, *, at_least: int = 1) -> None:
    """Skip the test unless the backend declares ``capability``, naming it in the reason.

    The suite's one meaning of "declares": a flag that is true, a count of at least
    ``at_least``, a name that is not empty. False, 0, ``None`` and "" all mean "does not".
    Works for buckets, job queues and compute handles alike.
    """
    value = getattr(handle.capabilities, capability)
    if not _declared(value, at_least):
        pytest.skip(f"capability {capability} is {value!r} on {handle.provider}")


def require_missing(handle: _Declares, capability: str) -> None:
    """Skip the test if the backend declares ``capability``: for tests of its refusal."""
    value = getattr(handle.capabilities, capability)
    if _declared(value, 1):
        pytest.skip(f"capability {capability} is {value!r} on {handle.provider}: nothing refused")


def _declared(value: object, at_least: int) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int):
        return value >= at_least
    return bool(value)


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def payload_chunks(size: int, chunk: int = 1024 * 1024, seed: int = 0) -> Iterator[bytes]:
    """``size`` deterministic bytes, generated ``chunk`` at a time (bounded memory)."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(chunk, left)
        yield rng.randbytes(n)
        left -= n


def key_expected_valid(full_key: str, caps: StorageCapabilities) -> bool:
    """Whether a backend with ``caps`` must store ``full_key`` as given.

    This is the suite's own oracle, written from the capability definitions, not from the
    portable layer's validator: a backend that refuses a key its capabilities promise, or
    accepts one they rule out, fails.
    """
    encoded = full_key.encode("utf-8", "surrogatepass")
    if len(encoded) > caps.key_max_bytes or "\x00" in full_key:
        return False
    segments = full_key.split("/")
    if not caps.key_empty_segments and "" in segments:
        return False
    if not caps.key_dot_segments and ("." in segments or ".." in segments):
        return False
    if not caps.key_backslash and "\\" in full_key:
        return False
    if not caps.key_control_chars and any(ord(c) < 32 or ord(c) == 127 for c in full_key):
        return False
    return not (
        caps.key_max_segment_bytes is not None
        and max(len(s.encode("utf-8")) for s in segments) > caps.key_max_segment_bytes
    )


def cleanup_prefix(bucket: portacloud.Bucket) -> int:
    """Delete everything under ``bucket`` and return how many objects could not be deleted."""
    try:
        keys = [o.key for o in bucket.list() if isinstance(o, portacloud.ObjectInfo)]
        bucket.delete_many(keys)
        return sum(1 for o in bucket.list() if isinstance(o, portacloud.ObjectInfo))
    except PortaCloudError:
        return -1

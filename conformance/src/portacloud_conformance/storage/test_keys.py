"""Keys are opaque strings: an odd-key corpus round-trips or is refused as declared."""

from __future__ import annotations

import string

import pytest

import portacloud
from portacloud_conformance.support import key_expected_valid

CORPUS: dict[str, str] = {
    "unicode": "données/日本語/emoji-\U0001f600",
    "spaces": "with spaces/and  two",
    "percent": "100%/%2F%25",
    "plus": "a+b/c+d",
    "hash": "hash#tag",
    "question": "what?/x=1&y=2",
    "dotdot": "../escape",
    "dotdot-middle": "a/../b",
    "dot": "a/./b",
    "backslash": "back\\slash\\..\\x",
    "double-slash": "a//b",
    "trailing-slash": "dir/",
    "leading-slash": "/lead",
    "quotes": "'single' \"double\" `back`",
    "printable-ascii": string.printable.replace("\x0b", "")
    .replace("\x0c", "")
    .replace("\r", "")
    .replace("\n", "")
    .replace("\t", ""),
    "control-chars": "tab\there\nnewline",
    "tilde-star": "~user/*.txt",
    "angle-brackets": "<tag>&amp;",
    "combining": "e\u0301",
    "rtl": "\u05e9\u05dc\u05d5\u05dd",
}


def _long_key(bucket: portacloud.Bucket) -> str:
    room = bucket.capabilities.key_max_bytes - len(bucket.prefix.encode())
    seg = bucket.capabilities.key_max_segment_bytes or room
    parts, left = [], room
    while left > 0:
        n = min(seg, left)
        parts.append("k" * n)
        left -= n + 1
    key = "/".join(parts)[:room]
    return key.rstrip("/") + ("k" if key.endswith("/") else "")


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_odd_key_round_trips_or_is_refused(bucket: portacloud.Bucket, name: str) -> None:
    key = CORPUS[name]
    if not key_expected_valid(bucket.prefix + key, bucket.capabilities):
        with pytest.raises(portacloud.InvalidArgumentError):
            bucket.put(key, b"x")
        return
    data = key.encode("utf-8")
    info = bucket.put(key, data)
    assert info.key == key
    assert bucket.get(key) == data
    assert bucket.head(key).key == key
    assert [e.key for e in bucket.list()] == [key]
    assert [e.key for e in bucket.list(key)] == [key]
    bucket.delete(key)
    assert not bucket.exists(key)


def test_longest_key(bucket: portacloud.Bucket) -> None:
    key = _long_key(bucket)
    assert len((bucket.prefix + key).encode()) == bucket.capabilities.key_max_bytes
    bucket.put(key, b"long")
    assert bucket.get(key) == b"long"
    assert [e.key for e in bucket.list()] == [key]


def test_key_one_byte_too_long_is_invalid_argument(bucket: portacloud.Bucket) -> None:
    key = _long_key(bucket) + "k"
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put(key, b"x")


@pytest.mark.parametrize("bad", ["", "nul\x00byte", "lone\ud800surrogate"])
def test_impossible_keys_are_invalid_argument(bucket: portacloud.Bucket, bad: str) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put(bad, b"x")
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.get(bad)


def test_non_string_key_is_invalid_argument(bucket: portacloud.Bucket) -> None:
    with pytest.raises(portacloud.InvalidArgumentError):
        bucket.put(b"bytes-key", b"x")  # type: ignore[arg-type]


def test_keys_are_not_normalised(bucket: portacloud.Bucket) -> None:
    bucket.put("Case", b"upper")
    bucket.put("case", b"lower")
    assert bucket.get("Case") == b"upper"
    assert bucket.get("case") == b"lower"
    nfc, nfd = "\u00e9", "e\u0301"
    bucket.put(nfc, b"nfc")
    bucket.put(nfd, b"nfd")
    assert bucket.get(nfc) == b"nfc"
    assert bucket.get(nfd) == b"nfd"

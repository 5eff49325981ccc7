"""Glob patterns over keys, as rclone's filters and ``gsutil`` wildcards read them.

``*`` matches within one path segment, ``**`` across segments, ``?`` one character other than
``/``, ``[abc]`` one of a set. Patterns are quoted on the command line so that the shell does
not expand them against local files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from portacloud.storage.models import ObjectInfo

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket

__all__ = ["GlobSplit", "glob_regex", "matching_objects", "split_glob"]

_SPECIAL = frozenset("*?[")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a key glob to an anchored regular expression."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # '**/' also matches no directory at all
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@dataclass(frozen=True)
class GlobSplit:
    """A key part split at the directory holding its first wildcard.

    Attributes:
        directory: The literal directory part (``""`` or ending in ``/``), opened as a prefix.
        pattern: The rest, relative to ``directory``, with the wildcards.
    """

    directory: str
    pattern: str

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The compiled pattern."""
        return glob_regex(self.pattern)

    @property
    def literal_prefix(self) -> str:
        """The text every match starts with, to narrow the listing."""
        first = min(self.pattern.index(c) for c in _SPECIAL if c in self.pattern)
        return self.pattern[:first]

    @property
    def crosses_segments(self) -> bool:
        """Whether matches can lie below more than one level."""
        return "**" in self.pattern or "/" in self.pattern


def split_glob(path: str) -> GlobSplit | None:
    """Split a key part at its first wildcard, or return ``None`` when it has none."""
    positions = [path.index(c) for c in _SPECIAL if c in path]
    if not positions:
        return None
    cut = path.rfind("/", 0, min(positions)) + 1
    return GlobSplit(directory=path[:cut], pattern=path[cut:])


def matching_objects(bucket: Bucket, split: GlobSplit) -> Iterator[ObjectInfo]:
    """Objects of ``bucket`` (opened at ``split.directory``) whose keys match the pattern."""
    for entry in bucket.list(split.literal_prefix):
        if isinstance(entry, ObjectInfo) and split.regex.match(entry.key):
            yield entry

"""How the CLI reads the URLs and paths a user types.

A key is taken exactly as typed, as ``aws s3 cp`` takes it: ``#`` is part of the key (never a
fragment) and ``//`` is never collapsed. A ``?`` starts a URL's options only when what follows
it has their form (``name=value&...``); any other ``?`` is part of the key or the glob
pattern, so ``ls "s3://b/a?.txt?endpoint_url=..."`` matches ``ab.txt``. A key that contains ``?``
followed by text of the options' form cannot be named in a URL; the Python API takes any key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from portacloud.errors import InvalidArgumentError, PortaCloudError, UnsupportedError

if TYPE_CHECKING:
    from portacloud.profiles import Profile
    from portacloud.storage.bucket import Bucket

__all__ = [
    "Target",
    "cli_profile",
    "is_stdio",
    "is_url",
    "open_cli_bucket",
    "open_cli_object",
    "open_prefix",
    "open_target_object",
    "parse_target",
    "refuse_in_process_schemes",
]

_OPTIONS = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*=[^&=]*(?:&[A-Za-z_][A-Za-z0-9_.-]*=[^&=]*)*$")
_GLOB_CHARS = frozenset("*?[")
#: Schemes whose data lives inside one process: a CLI command would write it and forget it.
_IN_PROCESS = frozenset({"memory"})


def is_url(value: str) -> bool:
    """Whether a CLI argument is a URL rather than a local path."""
    return "://" in value


def is_stdio(value: str) -> bool:
    """``-`` means standard input or output, as in ``aws s3 cp`` and ``rclone rcat``."""
    return value == "-"


def refuse_in_process_schemes(url: str) -> None:
    """Refuse ``memory://``: its objects would vanish when this command exits."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in _IN_PROCESS:
        raise UnsupportedError(
            f"{scheme}:// lives inside one process, so the CLI would write to it and forget; "
            "use it from Python or with 'portacloud conformance run', or pick a file:/// URL"
        )


@dataclass(frozen=True, slots=True)
class Target:
    """A CLI URL split into its bucket part, its key (or pattern) and its options."""

    url: str
    base: str
    path: str
    query: str
    path_shaped: bool = False

    @property
    def pattern(self) -> str | None:
        """The glob pattern in the key part, or ``None`` when it names keys literally."""
        return self.path if any(c in _GLOB_CHARS for c in self.path) else None

    def registry_url(self, path: str) -> str:
        """A URL for the registry naming ``path`` of this bucket exactly, with the options.

        Path-shaped URLs (``file://``) are percent-decoded by their provider, so every
        character of a typed path is escaped here to reach it unchanged.
        """
        literal = quote(path, safe="/") if self.path_shaped else path
        return self.base + literal + (f"?{self.query}" if self.query else "")

    def bucket_url(self) -> str:
        """The URL of the bucket alone (``file://``: the root directory), with the options."""
        return self.base.rstrip("/") + (f"?{self.query}" if self.query else "")

    def at(self, path: str) -> Target:
        """The same bucket and options, naming ``path``."""
        options = f"?{self.query}" if self.query else ""
        return replace(self, url=self.display(path) + options, path=path)

    def display(self, key: str) -> str:
        """How to show the URL of ``key`` in this target's bucket to the user."""
        return self.base + key


def _path_shaped(scheme: str) -> bool:
    """Whether the provider of ``scheme`` names objects by path (``file:///abs/path``).

    Such providers split their own object URLs (``split_object_url``); their URLs have no
    bucket part, and their paths are percent-decoded.
    """
    from portacloud.providerkit import ObjectURLSplitter
    from portacloud.registry import default_registry

    try:
        provider = default_registry().storage(scheme.lower())
    except PortaCloudError:
        return False  # opening the URL will say what is wrong with it
    return isinstance(provider, ObjectURLSplitter)


def parse_target(url: str) -> Target:
    """Split a CLI URL into ``scheme://bucket/`` (or ``file:///``), key part and options."""
    refuse_in_process_schemes(url)
    if "://" not in url:
        raise InvalidArgumentError(f"expected a URL such as 's3://bucket/key', got {url!r}")
    scheme, rest = url.split("://", 1)
    query = ""
    # The first '?' that is followed by options starts them; earlier ones are in the key.
    at = rest.find("?")
    while at != -1:
        if _OPTIONS.match(rest[at + 1 :]):
            rest, query = rest[:at], rest[at + 1 :]
            break
        at = rest.find("?", at + 1)
    if _path_shaped(scheme):
        host, _, path = rest.partition("/")
        if host not in ("", "localhost"):
            raise InvalidArgumentError(
                f"{scheme}:// URLs name a local path, so they take no host ({host!r}): "
                f"write {scheme}:///abs/path"
            )
        return Target(url=url, base=f"{scheme}:///", path=path, query=query, path_shaped=True)
    bucket, _, path = rest.partition("/")
    return Target(url=url, base=f"{scheme}://{bucket}/", path=path, query=query)


def open_cli_bucket(url: str) -> Bucket:
    """Open a bucket URL typed on the command line."""

    target = parse_target(url)
    return open_prefix(target, target.path)


def cli_profile() -> Profile:
    """The profile a command runs under (``--profile``, ``$PORTACLOUD_PROFILE`` or
    ``default``): every bucket, queue and compute target it opens follows its region policy."""
    from portacloud.profiles import load_profile

    return load_profile()


def open_prefix(target: Target, path: str) -> Bucket:
    """Open ``path`` of a target's bucket as a bucket of its own (keys relative to it)."""
    from portacloud.openers import open_bucket

    return open_bucket(target.registry_url(path), profile=cli_profile())


def open_cli_object(url: str) -> tuple[Bucket, str]:
    """Open the bucket of an object URL typed on the command line, and return the key.

    Raises:
        InvalidArgumentError: The URL names a bucket, or has a host on ``file://``.
    """
    return open_target_object(parse_target(url))


def open_target_object(target: Target) -> tuple[Bucket, str]:
    """Open the bucket of the object a parsed CLI URL names, and return it with the key."""
    from portacloud.openers import open_bucket, open_object

    url = target.url
    if not target.path or target.path.endswith("/"):
        raise InvalidArgumentError(f"{url!r} names a bucket or a prefix, not an object")
    if target.path_shaped:
        return open_object(target.registry_url(target.path), profile=cli_profile())
    return open_bucket(target.bucket_url(), profile=cli_profile()), target.path

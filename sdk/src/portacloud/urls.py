"""Resource URLs: how ``scheme://bucket/prefix?option=value`` is split and checked.

URLs name resources only: credentials in the user-info part or in the query are refused, so
they cannot end up in logs, profiles or reprs.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlsplit

from portacloud.errors import InvalidArgumentError

__all__ = ["SECRET_NAME", "parse_url"]

#: Option names that carry credentials; such options are typed arguments, never URL text.
SECRET_NAME = re.compile(
    r"(secret|password|passwd|token|credential|signature|^sig$|^sas|key$|connection_string)",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def parse_url(url: object) -> tuple[SplitResult, dict[str, str]]:
    """Split a resource URL into its parts and its query options.

    Raises:
        InvalidArgumentError: a malformed URL, or one carrying credentials.
    """
    if not isinstance(url, str) or "://" not in url:
        raise InvalidArgumentError(f"expected a URL such as 's3://bucket/prefix', got {url!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidArgumentError(f"URLs cannot contain control characters: {url!r}")
    try:
        # A '#' belongs to the key: object URLs never carry fragments.
        parts = urlsplit(url, allow_fragments=False)
    except ValueError as exc:
        raise InvalidArgumentError(f"malformed URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if not _SCHEME.match(scheme):
        raise InvalidArgumentError(f"malformed URL scheme {parts.scheme!r}")
    if "@" in parts.netloc:
        raise InvalidArgumentError(
            "URLs never carry credentials (user:password@...); use the provider's usual "
            "credential chain or typed options"
        )
    try:
        query = dict(
            parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        )
    except ValueError as exc:
        raise InvalidArgumentError(f"malformed URL query: {exc}") from exc
    secret = sorted(name for name in query if SECRET_NAME.search(name))
    if secret:
        raise InvalidArgumentError(
            f"URLs never carry credentials; remove {', '.join(secret)} from the query and use "
            "the provider's credential chain or typed options"
        )
    return parts._replace(scheme=scheme, query="", fragment=""), query

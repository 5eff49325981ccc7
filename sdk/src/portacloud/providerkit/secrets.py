"""The one scrubber for text that leaves a provider: error messages and log records alike."""

from __future__ import annotations

import re

from portacloud.logging_redaction import redact

__all__ = ["scrub"]

# A URL's query or fragment can be a signature, a SAS token or a resumable-session id: error
# messages keep the path only.
_URL_QUERY = re.compile(r"\b(https?://[^\s?#'\"]*)[?#][^\s'\"]*")
# ``scheme://user:password@host``: the user information of any URL.
_URL_USERINFO = re.compile(r"(?<=//)[^/@\s'\"]+@")


def scrub(text: str, *, max_chars: int | None = 400) -> str:
    """``text`` made safe for an error message.

    Credentials of every shape the logging redaction knows are replaced by ``***``, URL queries
    are cut, a URL's user information (``//user:password@``) becomes ``***@``, whitespace runs
    (a multi-line server body) become one space, and the result is cut to ``max_chars``
    (``None``: no limit).
    """
    text = _URL_USERINFO.sub("***@", _URL_QUERY.sub(r"\1", text))
    text = " ".join(redact(text).split())
    if max_chars is not None and len(text) > max_chars:
        return text[: max_chars - 1] + "…"
    return text

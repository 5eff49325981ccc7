"""HTTP details every REST provider reads the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["header", "range_header", "range_total", "retry_after"]

# Azure's millisecond variants come first: they are more precise than Retry-After.
_MS_HEADERS = ("x-ms-retry-after-ms", "retry-after-ms")


def header(headers: Mapping[str, object] | None, name: str) -> str | None:
    """The value of header ``name`` (case-insensitive), as text, or ``None``."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted and value is not None:
            return str(value).strip()
    return None


def retry_after(headers: Mapping[str, object] | None) -> float | None:
    """Seconds a server asked the client to wait, or ``None`` if it did not say.

    Reads ``x-ms-retry-after-ms`` / ``retry-after-ms`` (milliseconds), then ``Retry-After`` as
    delta-seconds or as an HTTP date. A date in the past means "now" (0.0).
    """
    for name in _MS_HEADERS:
        raw = header(headers, name)
        if raw:
            try:
                return max(0.0, float(raw) / 1000.0)
            except ValueError:
                pass
    raw = header(headers, "retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def range_header(start: int, end: int | None) -> str | None:
    """The ``Range`` of a read from ``start`` to ``end`` (exclusive); ``None``: everything.

    A negative ``start`` (with ``end=None``) asks for the last ``-start`` bytes.
    """
    if start < 0:
        return f"bytes={start}"  # a suffix range: HTTP says "the last N bytes" natively
    if end is None:
        return None if start == 0 else f"bytes={start}-"
    return f"bytes={start}-{end - 1}"


def range_total(content_range: object) -> int | None:
    """The whole object's size from a ranged answer's ``Content-Range`` (``bytes 0-9/123``)."""
    if isinstance(content_range, str) and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return None

"""The checks a write's options and a signing request pass before any request is made."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from portacloud.errors import InvalidArgumentError, UnsupportedError
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import WriteOptions
from portacloud.storage.keys import check_metadata

__all__ = ["checked_signing", "checked_write_options"]


def checked_write_options(
    caps: StorageCapabilities,
    operation: str,
    *,
    unsupported: Callable[[str, str, str], UnsupportedError],
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    if_none_match: str | None,
    if_match: str | None,
    size_hint: int | None,
) -> WriteOptions:
    """Validate a write's options against the backend's capabilities.

    Args:
        caps: The backend's capabilities.
        operation: The portable operation, for errors.
        unsupported: Builds the UNSUPPORTED error for (operation, what, capability).
        content_type: The MIME type asked for.
        metadata: User metadata asked for.
        if_none_match: ``"*"`` for a create-only write.
        if_match: An etag for a compare-and-swap write.
        size_hint: The body's size where known.

    Raises:
        InvalidArgumentError: for a malformed option.
        UnsupportedError: for an option the backend cannot honour.
    """
    if if_none_match is not None and if_none_match != "*":
        raise InvalidArgumentError(
            f"if_none_match must be '*' (create-only), not {if_none_match!r}"
        )
    if if_none_match is not None and if_match is not None:
        raise InvalidArgumentError("pass if_none_match or if_match, not both")
    if if_match is not None and (not isinstance(if_match, str) or not if_match):
        raise InvalidArgumentError("if_match must be a non-empty etag string")
    if if_none_match and not caps.write_with_if_none_match:
        raise unsupported(operation, "if_none_match", "write_with_if_none_match")
    if if_match and not caps.write_with_if_match:
        raise unsupported(operation, "if_match", "write_with_if_match")
    if content_type is not None and not isinstance(content_type, str):
        raise InvalidArgumentError("content_type must be a str")
    if content_type and not caps.write_with_content_type:
        raise unsupported(operation, "content_type", "write_with_content_type")
    checked = check_metadata(metadata)
    if checked and not caps.write_with_user_metadata:
        raise unsupported(operation, "metadata", "write_with_user_metadata")
    return WriteOptions(
        content_type=content_type,
        metadata=checked,
        if_none_match=if_none_match == "*",
        if_match=if_match,
        size_hint=size_hint,
    )


def checked_signing(method: object, expires: timedelta | int) -> timedelta:
    """Validate a signed URL's method and lifetime (1 second to 7 days, as S3 allows).

    Returns:
        The lifetime as a timedelta.
    """
    if method not in ("GET", "PUT"):
        raise InvalidArgumentError(f"method must be 'GET' or 'PUT', not {method!r}")
    lifetime = expires if isinstance(expires, timedelta) else timedelta(seconds=expires)
    if not timedelta(seconds=1) <= lifetime <= timedelta(days=7):
        raise InvalidArgumentError("expires must be between 1 second and 7 days")
    return lifetime

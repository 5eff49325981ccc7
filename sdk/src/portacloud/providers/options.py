"""Checks shared by providers when they turn URL query and keyword options into settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from portacloud.errors import InvalidArgumentError

__all__ = ["reject_unknown_options"]


def reject_unknown_options(
    provider: str, options: Mapping[str, object], *, allowed: Iterable[str]
) -> None:
    """Raise INVALID_ARGUMENT naming every option ``provider`` does not know."""
    known = set(allowed)
    unknown = sorted(set(options) - known)
    if unknown:
        hint = f"; it accepts {', '.join(sorted(known))}" if known else "; it takes no options"
        raise InvalidArgumentError(
            f"unknown option(s) {', '.join(unknown)} for {provider}://{hint}"
        )

"""Typed provider options: parsed once from a URL's query and the caller's keywords.

A provider declares its options as a frozen pydantic model (a subclass of
:class:`ProviderOptions`) and calls :func:`parse_options` with what ``open_*`` received. Query
values arrive as text and keywords as Python values; both go through the same validators, and
every failure is one INVALID_ARGUMENT line naming the scheme, the option and what it takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from portacloud.errors import InvalidArgumentError

__all__ = [
    "ByteCount",
    "EndpointURL",
    "NonEmptyStr",
    "ProviderOptions",
    "merge_options",
    "parse_options",
    "reject_unknown_options",
]

_M = TypeVar("_M", bound="ProviderOptions")
_SIZE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
}  # fmt: skip


def _byte_count(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"must be a byte count such as 8388608 or '8MiB', not {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _non_empty(value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, not {value!r}")
    return value.strip()


def _endpoint(value: object) -> object:
    value = _non_empty(value)
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, not {value!r}")
    if parts.username or parts.password:
        # ", not <the URL>" would echo the password into the error: say what was wrong instead.
        raise ValueError(
            "must not carry credentials: use the provider's credential chain, not "
            "user:password@ in the URL"
        )
    return value


#: A size in bytes: an int, or text such as ``8388608``, ``8MiB`` or ``64kb``.
ByteCount = Annotated[int, BeforeValidator(_byte_count)]
#: A string that is not empty once stripped (and is stored stripped).
NonEmptyStr = Annotated[str, BeforeValidator(_non_empty)]
#: An ``http(s)://host[:port]/...`` endpoint without credentials in it.
EndpointURL = Annotated[str, BeforeValidator(_endpoint)]


class ProviderOptions(BaseModel):
    """Base of every provider's options model: frozen, unknown names refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


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


def merge_options(query: Mapping[str, str], keywords: Mapping[str, Any]) -> dict[str, Any]:
    """The URL's query options and the caller's keywords as one mapping.

    Raises:
        InvalidArgumentError: an option given both ways (which one should win is a guess).
    """
    clash = sorted(set(query) & set(keywords))
    if clash:
        raise InvalidArgumentError(
            f"option(s) {', '.join(clash)} given both in the URL and as arguments"
        )
    return {**query, **keywords}


def parse_options(model: type[_M], scheme: str, options: Mapping[str, Any]) -> _M:
    """Validate ``options`` into ``model``, or raise one INVALID_ARGUMENT line.

    Options whose value is ``None`` count as not given (the model's default applies).
    """
    reject_unknown_options(scheme, options, allowed=model.model_fields)
    given = {name: value for name, value in options.items() if value is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise InvalidArgumentError(_first_problem(scheme, exc)) from None


def _first_problem(scheme: str, exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    name = ".".join(str(part) for part in error["loc"]) or "options"
    message = _phrase(str(error["msg"]).removeprefix("Value error, "))
    if ", not " not in message and "input" in error:
        message += f", not {error['input']!r}"
    return f"{scheme}:// option {name} {message}"


def _phrase(message: str) -> str:
    # pydantic says "Input should be a valid integer..."; ours read "must be ...".
    if message.startswith("Input should be "):
        return "must be " + message.removeprefix("Input should be ")
    if message.startswith(("must", "is")):
        return message
    return f"is invalid: {message}"

"""Users' specs (a job, an instance, resources) validated into models, as INVALID_ARGUMENT.

Specs arrive as models or as mappings loaded from YAML or JSON; a mapping that does not
validate becomes one INVALID_ARGUMENT line that names every field at fault, so a user fixes
the whole spec in one go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from portacloud.errors import InvalidArgumentError

__all__ = ["validated"]

_M = TypeVar("_M", bound=BaseModel)


def validated(model: type[_M], spec: _M | Mapping[str, Any], *, what: str) -> _M:
    """``spec`` as a ``model``: passed through when it is one, validated when a mapping.

    Args:
        model: The pydantic model.
        spec: A ``model`` instance or a mapping of its fields.
        what: The spec's name in messages (``job spec``, ``resources``...).

    Raises:
        InvalidArgumentError: ``spec`` is neither, or a field is invalid (each one named).
    """
    if isinstance(spec, model):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(
            f"{_a(what)} must be {_a(model.__name__)} or a mapping, not {type(spec).__name__}"
        )
    try:
        return model.model_validate(dict(spec))
    except ValidationError as exc:
        where = what.rsplit(" ", 1)[-1]
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or where}: {_message(e['msg'])}"
            for e in exc.errors()
        )
        raise InvalidArgumentError(f"invalid {what}: {problems}") from None


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _message(text: str) -> str:
    # pydantic prefixes a validator's own ValueError; the message itself says what is wrong.
    return text.removeprefix("Value error, ")

"""The one table that turns Ray Jobs client failures into portacloud errors.

``JobSubmissionClient`` reports a dashboard's HTTP error as a plain ``RuntimeError("Request
failed with status code N: BODY.")``; the body (a sentence, or a server-side traceback for
500s) refines the status (Ray answers 500 for "already exists" and for deleting a running job).
Transport failures arrive as ``requests`` exceptions, the builtin ``ConnectionError`` (the
client's connection check), Ray's ``AuthenticationError`` and the State API's exceptions; they
are matched by the qualified names of the exception's classes, most specific first, so this
module imports neither Ray nor ``requests``. Every row is a
:class:`~portacloud.providerkit.ErrorRule`; statuses go through an
:class:`~portacloud.providerkit.ErrorTable`, and messages through
:func:`~portacloud.providerkit.scrub`.
"""

from __future__ import annotations

import re

from portacloud.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.providerkit import ErrorRule, ErrorTable, scrub, status_rules

__all__ = [
    "BY_BODY",
    "BY_TYPE_NAME",
    "TABLE",
    "http_failure",
    "map_ray_error",
]

_R = ErrorRule

#: Sentences in the body of a failed request, checked before the HTTP status.
BY_BODY: tuple[tuple[re.Pattern[str], ErrorRule], ...] = (
    (re.compile(r"Job .* does not exist"), _R(NotFoundError)),
    (re.compile(r"submission_id .* already exists"), _R(AlreadyExistsError)),
    (re.compile(r"in a non-terminal state"), _R(FailedPreconditionError)),
    (re.compile(r"Can only get logs of submission type jobs"), _R(UnsupportedError)),
)

#: HTTP statuses of the dashboard's answer.
TABLE = ErrorTable(
    # The dashboard answers 500 with the traceback of whatever it raised: a bug or a state it
    # did not expect, which a retry does not change.
    by_status=status_rules({500: _R(InternalError)}),
)

#: Exception classes by ``module.QualName``, most specific first.
BY_TYPE_NAME: tuple[tuple[str, ErrorRule], ...] = (
    ("ray.exceptions.AuthenticationError", _R(UnauthenticatedError)),
    ("ray.util.state.exception.ServerUnavailable", _R(UnavailableError)),
    ("ray.util.state.exception.RayStateApiException", _R(UnavailableError)),
    ("requests.exceptions.ConnectTimeout", _R(UnavailableError)),
    ("requests.exceptions.ReadTimeout", _R(DeadlineExceededError)),
    ("requests.exceptions.Timeout", _R(DeadlineExceededError)),
    # A certificate that does not verify will not verify on a retry either.
    ("requests.exceptions.SSLError", _R(UnavailableError, retryable=False)),
    ("requests.exceptions.ConnectionError", _R(UnavailableError)),
    ("requests.exceptions.ChunkedEncodingError", _R(UnavailableError)),
    ("requests.exceptions.InvalidURL", _R(InvalidArgumentError)),
    ("requests.exceptions.RequestException", _R(UnavailableError)),
    ("builtins.ConnectionError", _R(UnavailableError)),
    ("builtins.TimeoutError", _R(DeadlineExceededError)),
)

_HTTP_FAILURE = re.compile(r"^Request failed with status code (\d{3}): (.*)$", re.DOTALL)
_BODY_LIMIT = 500


def http_failure(exc: BaseException) -> tuple[int, str] | None:
    """The HTTP status and body of a failed dashboard request, if ``exc`` is one."""
    if type(exc) is not RuntimeError:
        return None
    match = _HTTP_FAILURE.match(str(exc))
    if match is None:
        return None
    return int(match.group(1)), match.group(2).rstrip().removesuffix(".").strip()


def _summary(body: str) -> str:
    """The body in one line: for a server-side traceback, the exception it ended with."""
    lines = [line.strip() for line in body.splitlines() if line.strip() and line.strip() != "."]
    if not lines:
        return "no details"
    text = lines[-1] if "Traceback (most recent call last)" in body else " ".join(lines)
    return scrub(text, max_chars=_BODY_LIMIT)


def _type_names(exc: BaseException) -> list[str]:
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__]


def map_ray_error(exc: BaseException) -> PortaCloudError | None:
    """Translate what the Ray Jobs client (or the State API) raised into a portacloud error.

    Args:
        exc: The native exception.

    Returns:
        The portacloud error to raise ``from exc``, or ``None`` when ``exc`` is not a Ray
        client failure (the caller then reports it as UNKNOWN).
    """
    if isinstance(exc, PortaCloudError):
        return exc
    failure = http_failure(exc)
    if failure is not None:
        status, body = failure
        rule = next((r for pattern, r in BY_BODY if pattern.search(body)), None)
        rule = rule or TABLE.rule_for_status(status) or _R(InvalidArgumentError)
        return rule.build(f"Ray dashboard answered HTTP {status}: {_summary(body)}")
    names = _type_names(exc)
    for name, rule in BY_TYPE_NAME:
        if name in names:
            detail = _summary(str(exc)) if str(exc) else type(exc).__name__
            return rule.build(f"{type(exc).__name__}: {detail}")
    return None

"""Declarative error tables: how a provider's native failures become portacloud errors.

Every provider fills one :class:`ErrorTable` (service error code, HTTP status and exception
type, each to an :class:`ErrorRule`) and keeps only the code that digs the code, status and
message out of its SDK's exceptions. Lookups go from the most precise key to the least: the
service's own error code, then the exception's class (its MRO, most specific first), then the
HTTP status, then the status class (5xx transient, other 4xx the caller's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from portacloud.errors import (
    HTTP_STATUS_ERRORS,
    InvalidArgumentError,
    PortaCloudError,
    UnavailableError,
)
from portacloud.providerkit.secrets import scrub
from portacloud.retry import RetryPolicy, call_conditional_with_retry, call_with_retry

__all__ = [
    "TRANSIENT_STATUSES",
    "ErrorRule",
    "ErrorTable",
    "call_mapped",
    "call_owned",
    "status_rules",
]

_T = TypeVar("_T")

#: Statuses a retry may cure, whatever error class they map to.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """One row of an error table.

    Attributes:
        error: The portacloud error class raised.
        retryable: Whether a retry may succeed; ``None`` takes the error class's default.
        reason: The message used when the native failure says nothing useful.
    """

    error: type[PortaCloudError]
    retryable: bool | None = None
    reason: str = ""

    def build(
        self, message: str = "", *, retry_after: float | None = None, max_chars: int = 400
    ) -> PortaCloudError:
        """The error this rule names, with ``message`` scrubbed of anything credential-like."""
        text = scrub(message, max_chars=max_chars) if message else self.reason
        return self.error(
            text or self.error.__name__, retryable=self.retryable, retry_after=retry_after
        )


def status_rules(
    overrides: Mapping[int, ErrorRule] | None = None,
) -> Mapping[int, ErrorRule]:
    """The usual meaning of each HTTP status (transient ones retryable), with ``overrides``."""
    rules = {
        status: ErrorRule(cls, True if status in TRANSIENT_STATUSES else None)
        for status, cls in HTTP_STATUS_ERRORS.items()
    }
    rules.update(overrides or {})
    return MappingProxyType(rules)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorTable:
    """A provider's whole mapping from native failures to portacloud errors.

    Attributes:
        by_code: The service's error codes (``NoSuchKey``, ``BlobNotFound``...).
        by_type: Native exception classes; a subclass matches its nearest listed base.
        by_status: HTTP statuses (see :func:`status_rules`).
    """

    by_code: Mapping[str, ErrorRule] = field(default_factory=dict)
    by_type: Sequence[tuple[type[BaseException], ErrorRule]] = ()
    by_status: Mapping[int, ErrorRule] = field(default_factory=status_rules)

    def rule(
        self,
        *,
        code: str | None = None,
        exc: BaseException | None = None,
        status: int | None = None,
    ) -> ErrorRule | None:
        """The rule for a failure, from the most precise key given to the least."""
        if code is not None and code in self.by_code:
            return self.by_code[code]
        if exc is not None:
            found = self.rule_for_type(type(exc))
            if found is not None:
                return found
        if status is not None:
            return self.rule_for_status(status)
        return None

    def rule_for_type(self, cls: type[BaseException]) -> ErrorRule | None:
        """The rule of ``cls`` or of its nearest base listed in :attr:`by_type`."""
        types = dict(self.by_type)
        for base in cls.__mro__:
            if base in types:
                return types[base]
        return None

    def rule_for_status(self, status: int) -> ErrorRule | None:
        """The rule of ``status``, or of its class: 5xx transient, other 4xx the caller's."""
        if status in self.by_status:
            return self.by_status[status]
        if 500 <= status < 600:
            return ErrorRule(UnavailableError, True)
        if 400 <= status < 500:
            return ErrorRule(InvalidArgumentError)
        return None


def call_mapped(
    fn: Callable[[], _T],
    map_error: Callable[[Exception], PortaCloudError | None],
    otherwise: Callable[[Exception], PortaCloudError],
) -> _T:
    """Call ``fn`` so that only portacloud errors leave it, the native one as ``__cause__``.

    Args:
        fn: One SDK call, or an opener building clients.
        map_error: The provider's table lookup; ``None`` for exceptions it does not know.
        otherwise: The error for an exception ``map_error`` does not know.
    """
    try:
        return fn()
    except PortaCloudError:
        raise
    except Exception as exc:
        raise (map_error(exc) or otherwise(exc)) from exc


def call_owned(
    policy: RetryPolicy, once: Callable[[], _T], *, retry: bool, conditional: bool
) -> _T:
    """``once()``, retried under ``policy`` when the driver owns the call's retries (``retry``).

    ``conditional`` marks a conditional write, whose retries must not turn its own lost answer
    into a failed condition (:func:`portacloud.retry.call_conditional_with_retry`).
    """
    if not retry:
        return once()
    if conditional:
        return call_conditional_with_retry(policy, once)
    return call_with_retry(policy, once)

"""The one retry policy of the portable layer (see docs/decisions/0001-retries.md).

The portable type owns retries of whole calls whose input can be replayed (stat, ranged read
open, list page, delete, copy, put of in-memory bytes). Vendor SDKs are configured not to retry
on their own, so nothing is retried twice. Streamed writes are never replayed here: a driver
retries the parts it still holds in memory.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from portacloud.errors import PortaCloudError

__all__ = ["RetryPolicy", "call_with_retry"]

_T = TypeVar("_T")


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter, capped, honouring ``Retry-After``.

    Attributes:
        attempts: Total tries, the first included (1 disables retries).
        initial_delay: Base delay in seconds before the second try.
        max_delay: Cap on any single delay, ``Retry-After`` included.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=5, ge=1)
    initial_delay: float = Field(default=0.1, ge=0)
    max_delay: float = Field(default=10.0, ge=0)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.initial_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, PortaCloudError) and exc.retryable


def call_with_retry(policy: RetryPolicy, fn: Callable[[], _T]) -> _T:
    """Call ``fn`` until it succeeds, raises a non-retryable error, or tries run out."""
    # The first try runs bare: tenacity's bookkeeping costs more than a local read, and most
    # calls succeed at once. Only after a retryable failure does tenacity take over.
    try:
        return fn()
    except PortaCloudError as exc:
        if policy.attempts == 1 or not exc.retryable:
            raise
        first_delay = policy.delay(1, exc.retry_after)
    import tenacity  # imported on the first retry: keeps `import portacloud` fast

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, PortaCloudError) else None
        return policy.delay(state.attempt_number + 1, after)

    time.sleep(first_delay)
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts - 1),
        wait=wait,
        retry=tenacity.retry_if_exception(_is_retryable),
        reraise=True,
    )
    return retrying(fn)

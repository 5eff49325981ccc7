"""A server whose listings loop must not hang the client (issue 11, item 8).

The drivers here wrap the real memory backend and corrupt only its page cursors, the way a
misbehaving server does: a cursor that cycles, keys that go backwards, endless empty pages.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from portacloud.errors import UnavailableError
from portacloud.providers.memory import MemoryDriver
from portacloud.storage.bucket import Bucket
from portacloud.storage.driver import ListOptions
from portacloud.storage.models import ListPage


class _CyclingCursor(MemoryDriver):
    """Hands back, from the second page on, the cursor it was given: 'a' -> 'b' -> 'b' ..."""

    def list_page(self, options: ListOptions) -> ListPage:
        page = super().list_page(options)
        return page.model_copy(update={"next_token": options.token or page.next_token})


class _Backwards(MemoryDriver):
    """Answers every page with the first one again, under a fresh cursor each time."""

    counter = itertools.count()

    def list_page(self, options: ListOptions) -> ListPage:
        page = super().list_page(replace(options, token=None))
        return page.model_copy(update={"next_token": f"t{next(self.counter)}"})


class _EndlessEmpty(MemoryDriver):
    counter = itertools.count()

    def list_page(self, options: ListOptions) -> ListPage:
        return ListPage(next_token=f"t{next(self.counter)}")


def _bucket(driver_type: type[MemoryDriver], name: str) -> Bucket:
    driver: Any = driver_type(name)
    bucket = Bucket(driver, url=f"memory://{name}")
    for i in range(5):
        bucket.put(f"k{i}", b"x")
    return bucket


@pytest.mark.parametrize(
    ("driver_type", "message"),
    [
        (_CyclingCursor, "repeated the page cursor"),
        (_Backwards, "must ascend"),
        (_EndlessEmpty, "empty pages in a row"),
    ],
)
def test_a_looping_listing_fails_with_a_clear_error(
    driver_type: type[MemoryDriver], message: str
) -> None:
    bucket = _bucket(driver_type, f"guard-{driver_type.__name__}")
    with pytest.raises(UnavailableError, match=message) as caught:
        for _ in itertools.islice(bucket.list(page_size=2), 100_000):
            pass
    assert caught.value.retryable is False


def test_an_honest_listing_passes_the_guard() -> None:
    bucket = _bucket(MemoryDriver, "guard-honest")
    assert [e.key for e in bucket.list(page_size=2)] == [f"k{i}" for i in range(5)]

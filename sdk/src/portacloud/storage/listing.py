"""Paging over a sorted key stream (shared by backends that list by walking their own index),
and the portable layer's checks of the pages a listing gets."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from portacloud.errors import InvalidArgumentError, UnavailableError
from portacloud.storage.driver import ListOptions
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo

__all__ = [
    "ListingGuard",
    "PageEntries",
    "checked_list_options",
    "decode_token",
    "lower_bound",
    "page_from_sorted",
]

_KEY, _PREFIX = "k:", "p:"
#: Empty pages in a row after which a listing is taken to be going nowhere.
MAX_EMPTY_PAGES = 1000


class ListingGuard:
    """Ends a listing that a misbehaving server would otherwise make endless.

    A server that hands back a page cursor it gave before, or (where listings are declared
    sorted) keys that do not ascend across pages, or page after page of nothing, is looping;
    the client raises UNAVAILABLE naming the cursor (and ``where``, the server or URL listed)
    instead of sending requests forever.
    """

    def __init__(self, provider: str, *, ordered: bool, where: str | None = None) -> None:
        self._provider = provider
        self._where = where
        self._ordered = ordered
        self._seen: set[str] = set()
        self._last: str | None = None
        self._empty = 0

    def check_page(self, keys: list[str], token: str | None, next_token: str | None) -> None:
        """Check one page (its keys ascending) before its entries are handed out."""
        if keys and self._ordered and self._last is not None and keys[0] <= self._last:
            raise self._error(
                f"the server listed {keys[0]!r} after {self._last!r} (cursor {token!r}), "
                "but its listings must ascend"
            )
        if keys:
            self._last = keys[-1]
        self._empty = 0 if keys else self._empty + 1
        if next_token is None:
            return
        if next_token in self._seen or next_token == token:
            raise self._error(f"the server repeated the page cursor {next_token!r}")
        if self._empty >= MAX_EMPTY_PAGES:
            raise self._error(f"{self._empty} empty pages in a row (last cursor {next_token!r})")
        self._seen.add(next_token)

    def _error(self, what: str) -> UnavailableError:
        server = f" at {self._where}" if self._where else ""
        return UnavailableError(
            f"{what}{server}; the listing would never end, so it was stopped",
            provider=self._provider,
            operation="list",
            retryable=False,
        )


def decode_token(token: str | None) -> tuple[str | None, str | None]:
    """Split a page token into (last key returned, last common prefix returned)."""
    if token is None:
        return None, None
    if token.startswith(_KEY):
        return token[2:], None
    if token.startswith(_PREFIX):
        return None, token[2:]
    raise InvalidArgumentError(f"malformed page token {token!r}")


def lower_bound(options: ListOptions) -> str | None:
    """The greatest key that the page must not include (keys must be strictly after it)."""
    last_key, last_prefix = decode_token(options.token)
    bounds = [b for b in (options.start_after, last_key, last_prefix) if b is not None]
    return max(bounds) if bounds else None


def page_from_sorted(
    keys: Iterable[str],
    options: ListOptions,
    info_for: Callable[[str], ObjectInfo | None],
) -> ListPage:
    """Build one page from ``keys`` (ascending) following ``options``.

    Page tokens name the last entry returned, so a listing stays consistent when keys are
    inserted or deleted between pages: nothing before the token is repeated, nothing after it
    is skipped.

    Args:
        keys: Every key of the bucket in ascending order (it may start late, at the bound).
        options: Prefix, delimiter, bounds and page size.
        info_for: Describes a key, or returns ``None`` if it vanished meanwhile.
    """
    prefix, delimiter = options.prefix, options.delimiter
    _, skip_prefix = decode_token(options.token)
    bound = lower_bound(options)
    objects: list[ObjectInfo] = []
    prefixes: list[PrefixInfo] = []
    last_group: str | None = skip_prefix
    for key in keys:
        if not key.startswith(prefix):
            if key > prefix:
                break
            continue
        if bound is not None and key <= bound:
            continue
        if last_group is not None and key.startswith(last_group):
            continue
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                last_group = key[: cut + len(delimiter)]
                prefixes.append(PrefixInfo(key=last_group))
                if len(objects) + len(prefixes) >= options.page_size:
                    return ListPage(
                        objects=tuple(objects),
                        prefixes=tuple(prefixes),
                        next_token=_PREFIX + last_group,
                    )
                continue
        info = info_for(key)
        if info is None:
            continue
        objects.append(info)
        if len(objects) + len(prefixes) >= options.page_size:
            return ListPage(objects=tuple(objects), prefixes=tuple(prefixes), next_token=_KEY + key)
    return ListPage(objects=tuple(objects), prefixes=tuple(prefixes))


class PageEntries:
    """The entries of one listing's pages: relative to the bucket prefix, sorted, checked.

    Args:
        guard: The listing's guard (one per listing).
        cut: The length of the bucket prefix.
        relative: ``ObjectInfo`` with its key relative to the bucket prefix.
    """

    def __init__(
        self, guard: ListingGuard, *, cut: int, relative: Callable[[ObjectInfo], ObjectInfo]
    ) -> None:
        self._guard = guard
        self._cut = cut
        self._relative = relative

    def __call__(self, page: ListPage, token: str | None) -> list[ObjectInfo | PrefixInfo]:
        """The entries of ``page``, fetched with ``token``, in key order."""
        entries: list[ObjectInfo | PrefixInfo] = [self._relative(o) for o in page.objects]
        entries += [PrefixInfo(key=p.key[self._cut :]) for p in page.prefixes]
        entries.sort(key=lambda e: e.key)
        self._guard.check_page([e.key for e in entries], token, page.next_token)
        return entries


#: The most entries a listing page may ask for (every backend's ceiling).
MAX_PAGE_SIZE = 1000


def checked_list_options(
    base: str,
    prefix: str,
    *,
    delimiter: str | None,
    start_after: str | None,
    page_size: int | None,
    refuse_delimiter: Callable[[], Exception] | None = None,
) -> ListOptions:
    """The options of a listing's first page under the bucket prefix ``base``, checked.

    ``refuse_delimiter`` gives the error for a (valid) delimiter where the backend has none.

    Raises:
        InvalidArgumentError: an argument of ``Bucket.list`` has the wrong type or value.
    """
    from portacloud.storage.ranges import is_int

    if not isinstance(prefix, str):
        raise InvalidArgumentError("prefix must be a str")
    if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
        raise InvalidArgumentError("delimiter must be a non-empty str or None")
    if delimiter is not None and refuse_delimiter is not None:
        raise refuse_delimiter()
    if start_after is not None and not isinstance(start_after, str):
        raise InvalidArgumentError("start_after must be a str or None")
    size = MAX_PAGE_SIZE if page_size is None else page_size
    if not is_int(size) or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"page_size must be 1..1000, not {page_size!r}")
    return ListOptions(
        prefix=base + prefix,
        delimiter=delimiter,
        start_after=None if start_after is None else base + start_after,
        page_size=size,
    )

"""Listing a GCS bucket: ``startOffset`` paging under page tokens of this driver's own.

Each page is cut after its last object: a server that reports common prefixes beyond the
objects of a page (fake-gcs-server does) can then neither repeat nor skip entries. The token
names the last entry returned (``k:`` a key, ``p:`` a prefix).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from portacloud.errors import InvalidArgumentError
from portacloud.storage.driver import ListOptions
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud_gcp.client import TIMEOUT, http_error

if TYPE_CHECKING:
    from portacloud_gcp.storage import GCSDriver

__all__ = ["list_page"]

_PAGE_KEY, _PAGE_PREFIX = "k:", "p:"
# What GCSDriver.info reads of each object, and the paging fields.
_FIELDS = (
    "items(name,size,generation,updated,timeCreated,contentType,metadata,crc32c),"
    "prefixes,nextPageToken"
)


def list_page(driver: GCSDriver, options: ListOptions) -> ListPage:
    """One page of the bucket's listing as the portable layer asked for it."""
    bound, skip_prefix = _decode_token(options.token)
    if options.start_after is not None and (bound is None or options.start_after > bound):
        bound = options.start_after
    offset = bound
    if skip_prefix is not None:
        after_group = _successor(skip_prefix)
        if not after_group:
            return ListPage()
        offset = max(offset or "", after_group)
    gcs_token: str | None = None
    while True:
        objects, prefixes, gcs_token = _fetch_page(
            driver,
            prefix=options.prefix,
            delimiter=options.delimiter,
            start_offset=offset,
            page_size=min(options.page_size + 1, 1000),
            page_token=gcs_token,
        )
        entries = _page_entries(objects, prefixes, bound, skip_prefix, more=gcs_token is not None)
        if entries or gcs_token is None:
            break
    return _to_page(entries, options.page_size, more=gcs_token is not None)


def _fetch_page(
    driver: GCSDriver,
    *,
    prefix: str,
    delimiter: str | None,
    start_offset: str | None,
    page_size: int,
    page_token: str | None,
) -> tuple[list[ObjectInfo], list[str], str | None]:
    """One objects.list request: (objects, sorted prefixes, GCS's next page token).

    A plain JSON GET asking only for the fields an :class:`ObjectInfo` needs: the SDK's
    iterator would build a ``Blob`` (and parse a full resource) for every entry first.
    """
    params = {"maxResults": str(page_size), "fields": _FIELDS}
    given = {
        "prefix": prefix,
        "delimiter": delimiter,
        "startOffset": start_offset,
        "pageToken": page_token,
    }
    params.update({name: value for name, value in given.items() if value})
    response = driver.http.get(f"{driver.objects_url}?{urlencode(params)}", timeout=TIMEOUT)
    if response.status_code != 200:
        raise http_error(response)
    body = response.json()
    objects = [driver.info(item) for item in body.get("items") or ()]
    token = body.get("nextPageToken")
    return objects, sorted(body.get("prefixes") or ()), str(token) if token else None


def _successor(prefix: str) -> str:
    """The least string greater than every string that starts with ``prefix``."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:
            last = 0xE000  # surrogates are no characters: UTF-8 order skips them
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return ""  # no string is greater: the caller lists nothing more


_Entry = ObjectInfo | PrefixInfo


def _decode_token(token: str | None) -> tuple[str | None, str | None]:
    """Split this driver's page token into (last key returned, last prefix returned)."""
    if token is None:
        return None, None
    if token.startswith(_PAGE_KEY):
        return token[len(_PAGE_KEY) :], None
    if token.startswith(_PAGE_PREFIX):
        return None, token[len(_PAGE_PREFIX) :]
    raise InvalidArgumentError(f"malformed page token {token!r}")


def _page_entries(
    objects: list[ObjectInfo],
    prefixes: list[str],
    bound: str | None,
    skip_prefix: str | None,
    *,
    more: bool,
) -> list[_Entry]:
    """The entries of one GCS page that are after the cursor and certainly complete.

    ``startOffset`` is inclusive, so the key equal to the cursor is dropped. While GCS has more
    pages, prefixes after the page's last object are dropped too: a server may report them
    although objects between are still to come, and the next page will bring them in order.
    """
    entries: list[_Entry] = [o for o in objects if bound is None or o.key > bound]
    entries += [
        PrefixInfo(key=p)
        for p in prefixes
        if (bound is None or p > bound or bound.startswith(p))
        and (skip_prefix is None or p > skip_prefix)
    ]
    entries.sort(key=lambda e: e.key)
    if more and objects:
        last = objects[-1].key
        entries = [e for e in entries if e.key <= last]
    return entries


def _to_page(entries: list[_Entry], page_size: int, *, more: bool) -> ListPage:
    shown = entries[:page_size]
    truncated = more or len(entries) > page_size
    token: str | None = None
    if truncated and shown:
        last = shown[-1]
        token = (_PAGE_PREFIX if isinstance(last, PrefixInfo) else _PAGE_KEY) + last.key
    return ListPage(
        objects=tuple(e for e in shown if isinstance(e, ObjectInfo)),
        prefixes=tuple(e for e in shown if isinstance(e, PrefixInfo)),
        next_token=token,
    )

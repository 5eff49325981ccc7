"""Listings: ``prefix``/``delimiter`` pages with the service's continuation marker as token.

Blob Storage has no "start after", so keys up to ``start_after`` are listed and skipped here.
"""

from __future__ import annotations

from typing import Any

from portacloud.storage.driver import ListOptions
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud_azure.objects import info_from_props

__all__ = ["list_page"]


def list_page(container: Any, options: ListOptions) -> ListPage:
    """One page of the listing ``options`` asks for, from the SDK's ``ContainerClient``."""
    from azure.storage.blob import BlobPrefix

    prefix = options.prefix or None
    if options.delimiter:
        items = container.walk_blobs(
            name_starts_with=prefix,
            include=["metadata"],
            delimiter=options.delimiter,
            results_per_page=options.page_size,
        )
    else:
        items = container.list_blobs(
            name_starts_with=prefix, include=["metadata"], results_per_page=options.page_size
        )
    pages = items.by_page(continuation_token=options.token)
    page = next(pages, None)
    entries = list(page) if page is not None else []
    token = pages.continuation_token or None
    after = options.start_after
    objects: list[ObjectInfo] = []
    prefixes: list[PrefixInfo] = []
    for item in entries:
        name = str(item.name)
        if isinstance(item, BlobPrefix):
            if after is None or name > after or _has_key_after(container, name, after):
                prefixes.append(PrefixInfo(key=name))
        elif after is None or name > after:
            objects.append(info_from_props(name, item))
    return ListPage(objects=tuple(objects), prefixes=tuple(prefixes), next_token=token)


def _has_key_after(container: Any, prefix: str, start_after: str) -> bool:
    """Whether a common prefix that ``start_after`` falls inside still has keys after it."""
    if not start_after.startswith(prefix):
        return False  # the whole group sorts before start_after
    return any(
        str(blob.name) > start_after
        for blob in container.list_blobs(name_starts_with=prefix, results_per_page=1000)
    )
